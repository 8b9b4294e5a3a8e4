import { sql, type Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { inChunks } from './in-chunks.ts';

/**
 * Changes that arrived before the row they change. The scanner sends its outbox in order, so
 * this is rare (a re-sent older batch after a newer one); keeping them instead of dropping
 * them is what makes the final state independent of arrival order. Built over the ingest's
 * transaction.
 */
export function createPendingChanges(db: Kysely<MasterSchema>) {
  // Almost always false: then the look-up for the rows a batch inserts is skipped.
  let maybeAny = true;
  return {
    /** Call at the start of each batch (inside its transaction). */
    async refresh(): Promise<void> {
      const { rows } = await sql<{ any: unknown }>`SELECT EXISTS (SELECT 1 FROM pending_changes) AS any`.execute(db);
      // SQLite answers 1 or 0, PostgreSQL true or false.
      maybeAny = Boolean(Number(rows[0]?.any ?? 0) || rows[0]?.any === true);
    },
    /** `ord`: the order the master stored the change's event in (events.ord), the order it is applied in. */
    async hold(nodeId: string, targetId: string, ord: number, type: string, payload: unknown): Promise<void> {
      await db.insertInto('pending_changes').values({ node_id: nodeId, target_id: targetId, seq: ord, type, payload: JSON.stringify(payload) })
        .onConflict((oc) => oc.columns(['node_id', 'target_id', 'seq']).doNothing()).execute();
      maybeAny = true;
    },
    /** The held changes of one type to rows that now exist, oldest first; they are removed. */
    async take(nodeId: string, targetIds: readonly string[], type: string): Promise<{ targetId: string; payload: unknown }[]> {
      if (!maybeAny || targetIds.length === 0) return [];
      const out: { targetId: string; seq: number; payload: unknown }[] = [];
      await inChunks(targetIds, async (ids) => {
        const rows = await db.selectFrom('pending_changes').select(['target_id', 'seq', 'payload'])
          .where('node_id', '=', nodeId).where('type', '=', type).where('target_id', 'in', ids).execute();
        if (rows.length === 0) return;
        await db.deleteFrom('pending_changes').where('node_id', '=', nodeId).where('type', '=', type).where('target_id', 'in', [...new Set(rows.map((r) => r.target_id))]).execute();
        for (const r of rows) out.push({ targetId: r.target_id, seq: r.seq, payload: JSON.parse(r.payload) as unknown });
      });
      return out.sort((a, b) => a.seq - b.seq).map(({ targetId, payload }) => ({ targetId, payload }));
    },
  };
}
export type PendingChanges = ReturnType<typeof createPendingChanges>;
