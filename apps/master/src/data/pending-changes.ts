import type { Db } from '@moat/storage';

/**
 * Changes that arrived before the row they change. The scanner sends its outbox in order, so
 * this is rare (a re-sent older batch after a newer one); keeping them instead of dropping
 * them is what makes the final state independent of arrival order.
 */
export function createPendingChanges(db: Db) {
  const insert = db.prepare('INSERT OR IGNORE INTO pending_changes (node_id, target_id, seq, type, payload) VALUES (?, ?, ?, ?, ?)');
  const select = db.prepare<[string, string, string], { payload: string }>('SELECT payload FROM pending_changes WHERE node_id = ? AND target_id = ? AND type = ? ORDER BY seq');
  const remove = db.prepare('DELETE FROM pending_changes WHERE node_id = ? AND target_id = ? AND type = ?');
  const any = db.prepare('SELECT EXISTS (SELECT 1 FROM pending_changes)').pluck();
  // Almost always false: then the per-row look-up is skipped (it ran for every message).
  let maybeAny = true;
  return {
    /** Call at the start of each batch (inside its transaction). */
    refresh(): void {
      maybeAny = any.get() === 1;
    },
    /** `ord`: the order the master stored the change's event in (events.ord), the order it is applied in. */
    hold(nodeId: string, targetId: string, ord: number, type: string, payload: unknown): void {
      insert.run(nodeId, targetId, ord, type, JSON.stringify(payload));
      maybeAny = true;
    },
    /** The held changes of one type to a row that now exists, oldest first; they are removed. */
    take(nodeId: string, targetId: string, type: string): unknown[] {
      if (!maybeAny) return [];
      const rows = select.all(nodeId, targetId, type);
      if (rows.length === 0) return [];
      remove.run(nodeId, targetId, type);
      return rows.map((r) => JSON.parse(r.payload) as unknown);
    },
  };
}
export type PendingChanges = ReturnType<typeof createPendingChanges>;
