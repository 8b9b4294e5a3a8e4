import type { Db } from '@moat/storage';
import type { RetainedExpired } from '@moat/protocol';

/**
 * Applies `retained.expired` to the message log. Runs inside the ingest's transaction. The
 * node logged the message (with its copy) before it expired the copy, and the outbox is applied
 * in order, so the row is there; an entry whose copy is already marked gone keeps its first mark.
 */
export function createRetainedWriter(db: Db) {
  const markGone = db.prepare(`UPDATE messages SET retained_gone_at = ?, retained_gone_reason = ?
    WHERE id = ? AND node_id = ? AND retained_bytes IS NOT NULL AND retained_gone_at IS NULL`);
  return {
    expired(nodeId: string, ev: RetainedExpired): void {
      for (const id of ev.ids) markGone.run(ev.at, ev.reason, id, nodeId);
    },
  };
}
