import type { Kysely } from 'kysely';
import type { RetainedExpired } from '@moat/protocol';
import type { MasterSchema } from '../db/schema.ts';
import { locateEntries } from './log-entries.ts';
import type { Ordered } from './message-writer.ts';
import type { PendingChanges } from './pending-changes.ts';

/**
 * Applies `retained.expired` to the message log. Built over the ingest's transaction. A copy
 * removed before its log entry arrived (a re-sent older batch) waits in `pending_changes` like
 * a delivery status; an entry whose copy is already marked gone keeps its first mark.
 */
export function createRetainedWriter(db: Kysely<MasterSchema>, pending: PendingChanges) {
  async function expired(nodeId: string, changes: readonly Ordered<RetainedExpired>[]): Promise<void> {
    for (const { ord, ev } of changes) {
      for (const id of ev.ids) {
        // Through the id→day index: on PostgreSQL the entry is in its day's partition.
        const [entry] = await locateEntries(db, nodeId, [id]);
        if (!entry) {
          await pending.hold(nodeId, id, ord, 'retained.expired', { ids: [id], reason: ev.reason, at: ev.at });
          continue;
        }
        await db.updateTable('messages').set({ retained_gone_at: ev.at, retained_gone_reason: ev.reason })
          .where('received_at', '=', entry.received_at).where('rid', '=', entry.rid).where('retained_bytes', 'is not', null).where('retained_gone_at', 'is', null).execute();
      }
    }
  }

  return {
    expired,
    /** Log entries just arrived: apply the removals of their copies that came first, if any. */
    async logged(nodeId: string, ids: readonly string[]): Promise<void> {
      const held = await pending.take(nodeId, ids, 'retained.expired');
      await expired(nodeId, held.map((c) => ({ ord: 0, ev: c.payload as RetainedExpired })));
    },
  };
}
