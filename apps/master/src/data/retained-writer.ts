import type { Db } from '@moat/storage';
import type { RetainedExpired } from '@moat/protocol';
import type { PendingChanges } from './pending-changes.ts';

/**
 * Applies `retained.expired` to the message log. Runs inside the ingest's transaction. A copy
 * removed before its log entry arrived (a re-sent older batch) waits in `pending_changes` like
 * a delivery status; an entry whose copy is already marked gone keeps its first mark.
 */
export function createRetainedWriter(db: Db, pending: PendingChanges) {
  const markGone = db.prepare(`UPDATE messages SET retained_gone_at = ?, retained_gone_reason = ?
    WHERE id = ? AND node_id = ? AND retained_bytes IS NOT NULL AND retained_gone_at IS NULL`);
  const exists = db.prepare<[string, string], { rid: number }>('SELECT rid FROM messages WHERE id = ? AND node_id = ?');

  function expired(nodeId: string, ord: number, ev: RetainedExpired): void {
    for (const id of ev.ids) {
      if (markGone.run(ev.at, ev.reason, id, nodeId).changes > 0) continue;
      if (!exists.get(id, nodeId)) pending.hold(nodeId, id, ord, 'retained.expired', { ids: [id], reason: ev.reason, at: ev.at });
    }
  }

  return {
    expired,
    /** A log entry just arrived: apply the removal of its copy that came first, if any. */
    logged(nodeId: string, id: string): void {
      for (const change of pending.take(nodeId, id, 'retained.expired')) expired(nodeId, 0, change as RetainedExpired);
    },
  };
}
