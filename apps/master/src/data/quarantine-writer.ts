import { sql, type Kysely } from 'kysely';
import type { QuarantineAdded, QuarantineChanged } from '@moat/protocol';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { domainOf, normalizeAddress, uniqueRecipients } from './addresses.ts';
import { inChunks } from './in-chunks.ts';
import type { Ordered } from './message-writer.ts';
import type { PendingChanges } from './pending-changes.ts';
import { indexText } from './text-search.ts';

export type QuarantineStatus = 'held' | 'released' | 'deleted' | 'expired';
/** `expired`: purged by the quarantine lifetime on its node (a held message only): final, like `deleted`. */
const RANK: Readonly<Record<QuarantineStatus, number>> = { held: 0, released: 1, deleted: 2, expired: 2 };

/**
 * Set a quarantine entry's status if that moves it forward; false if it is missing or already
 * there. A quarantined message only moves forward: held → released → deleted (a released
 * message may still be purged; a deleted one has no file to release). Moving by rank, not by
 * timestamp, makes the outcome independent of event order and of clock skew between master and
 * scanner.
 */
export async function setQuarantineStatus(db: Kysely<MasterSchema>, nodeId: string, id: string, status: QuarantineStatus, at: number): Promise<boolean> {
  const r = await db.updateTable('quarantine').set({ status, status_at: at }).where('id', '=', id).where('node_id', '=', nodeId)
    .where(sql<number>`CASE status WHEN 'held' THEN 0 WHEN 'released' THEN 1 ELSE 2 END`, '<', RANK[status]).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Applies `quarantine.added` and `quarantine.changed` to the index, many rows per statement. Built over the ingest's transaction. */
export function createQuarantineWriter(db: Kysely<MasterSchema>, engine: Engine, pending: PendingChanges) {
  async function changed(nodeId: string, changes: readonly Ordered<QuarantineChanged>[]): Promise<void> {
    if (changes.length === 0) return;
    const present = new Set<string>();
    await inChunks([...new Set(changes.map((c) => c.ev.id))], async (ids) => {
      for (const r of await db.selectFrom('quarantine').select('id').where('id', 'in', ids).where('node_id', '=', nodeId).execute()) present.add(r.id);
    });
    for (const { ord, ev } of changes) {
      if (!present.has(ev.id)) await pending.hold(nodeId, ev.id, ord, 'quarantine.changed', ev);
      else await setQuarantineStatus(db, nodeId, ev.id, ev.expired ? 'expired' : ev.status, ev.at);
    }
  }

  return {
    async added(nodeId: string, list: readonly QuarantineAdded[]): Promise<void> {
      if (list.length === 0) return;
      const entries = list.map((q) => {
        const recipients = uniqueRecipients(q.rcptTo);
        return { q, mailFrom: normalizeAddress(q.mailFrom), recipients, rcptTo: JSON.stringify(recipients) };
      });
      const rids = new Map<string, number>();
      await inChunks(entries, async (chunk) => {
        const rows = await db.insertInto('quarantine').values(chunk.map(({ q, mailFrom, recipients, rcptTo }) => ({
          node_id: nodeId, id: q.id, file: q.file, created_at: q.createdAt, mail_from: mailFrom, sender_domain: domainOf(mailFrom),
          rcpt_to: rcptTo, first_rcpt: recipients[0] ?? '', rcpt_count: recipients.length, subject: q.subject, size: q.size,
          score: q.score, reasons: JSON.stringify(q.reasons),
        }))).onConflict((oc) => oc.columns(['id', 'node_id']).doNothing()).returning(['rid', 'id']).execute();
        for (const r of rows) rids.set(r.id, r.rid);
      });
      const stored = entries.flatMap((e) => {
        const rid = rids.get(e.q.id);
        if (rid === undefined) return [];
        rids.delete(e.q.id);
        return [{ ...e, rid }];
      });
      await inChunks(stored.flatMap((s) => s.recipients.map((rcpt) => ({ rcpt, created_at: s.q.createdAt, rid: s.rid }))), (rows) =>
        db.insertInto('quarantine_rcpts').values(rows).onConflict((oc) => oc.columns(['rcpt', 'created_at', 'rid']).doNothing()).execute());
      await indexText(db, engine, 'quarantine', stored.map((s) => ({ rid: s.rid, subject: s.q.subject, mail_from: s.mailFrom, rcpt_to: s.rcptTo })));
      const held = await pending.take(nodeId, stored.map((s) => s.q.id), 'quarantine.changed');
      await changed(nodeId, held.map((c) => ({ ord: 0, ev: c.payload as QuarantineChanged })));
    },
    changed,
  };
}
export type QuarantineWriter = ReturnType<typeof createQuarantineWriter>;
