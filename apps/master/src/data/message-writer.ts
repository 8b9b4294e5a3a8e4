import type { Kysely } from 'kysely';
import type { DeliveryStatus, MessageLogged } from '@moat/protocol';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { domainOf, normalizeAddress, uniqueRecipients } from './addresses.ts';
import { dsnStatus, foldDelivery, type DeliveryState } from './delivery-state.ts';
import { inChunks } from './in-chunks.ts';
import { insertLogEntries } from './log-entries.ts';
import type { LogPartitions } from './log-partitions.ts';
import type { PendingChanges } from './pending-changes.ts';
import type { Rollups } from './rollups.ts';
import { indexSubjects } from './subject-search.ts';

/** A change event and the order the master stored it in (events.ord; 0 for a held change being replayed). */
export interface Ordered<T> {
  readonly ord: number;
  readonly ev: T;
}

/**
 * Applies `message.logged` and `delivery.status` to the message log, a batch's events of one
 * type at a time, in seq order, many rows per statement. Built over the ingest's transaction;
 * `partitions` makes the days' partitions of the log entries it writes (PostgreSQL).
 */
export function createMessageWriter(db: Kysely<MasterSchema>, engine: Engine, rollups: Rollups, pending: PendingChanges, partitions: LogPartitions) {
  /** Fold deliveries into their messages (each message read once and written once); those whose message has not arrived wait. */
  async function delivery(nodeId: string, changes: readonly Ordered<DeliveryStatus>[]): Promise<void> {
    if (changes.length === 0) return;
    const states = new Map<string, { rid: number; receivedAt: number; state: DeliveryState; dsn: string | null | undefined; changed: boolean }>();
    await inChunks([...new Set(changes.map((c) => c.ev.id))], async (ids) => {
      // Through the id→day index: on PostgreSQL each message is read from its day's partition.
      const rows = await db.selectFrom('message_ids as k').innerJoin('messages as m', (j) => j.onRef('m.received_at', '=', 'k.received_at').onRef('m.rid', '=', 'k.rid'))
        .select(['m.rid', 'm.received_at', 'm.id', 'm.status', 'm.attempts', 'm.last_attempt_at', 'm.delivered', 'm.deferred', 'm.bounced', 'm.delivery_detail'])
        .where('k.id', 'in', ids).where('k.node_id', '=', nodeId).execute();
      for (const row of rows) {
        states.set(row.id, {
          rid: row.rid, receivedAt: row.received_at, dsn: undefined, changed: false,
          state: {
            status: row.status, attempts: row.attempts, lastAttemptAt: row.last_attempt_at, detail: row.delivery_detail,
            delivered: JSON.parse(row.delivered) as string[], deferred: JSON.parse(row.deferred) as string[], bounced: JSON.parse(row.bounced) as string[],
          },
        });
      }
    });
    for (const { ord, ev } of changes) {
      const s = states.get(ev.id);
      if (!s) {
        await pending.hold(nodeId, ev.id, ord, 'delivery.status', ev);
        continue;
      }
      if (ev.kind === 'dsn') s.dsn = dsnStatus(ev);
      else {
        s.state = foldDelivery(s.state, ev);
        s.changed = true;
      }
    }
    for (const { rid, receivedAt, state: st, dsn, changed } of states.values()) {
      if (!changed && dsn === undefined) continue;
      await db.updateTable('messages').set({
        ...(changed && {
          status: st.status, attempts: st.attempts, last_attempt_at: st.lastAttemptAt,
          delivered: JSON.stringify(st.delivered), deferred: JSON.stringify(st.deferred), bounced: JSON.stringify(st.bounced), delivery_detail: st.detail,
        }),
        ...(dsn !== undefined && { dsn_status: dsn }),
      }).where('received_at', '=', receivedAt).where('rid', '=', rid).execute();
    }
  }

  return {
    /**
     * Insert the log entries; returns the ids stored now. DO NOTHING on a second log entry for
     * the same message (in this batch or an earlier one): the first one counted in the
     * roll-ups, and a message is logged once by its scanner.
     */
    async logged(nodeId: string, list: readonly MessageLogged[]): Promise<string[]> {
      if (list.length === 0) return [];
      const entries = list.map((m) => {
        const mailFrom = normalizeAddress(m.mailFrom);
        return { m, mailFrom, senderDomain: domainOf(mailFrom), recipients: uniqueRecipients(m.rcptTo) };
      });
      await partitions.ensure(db, entries.map((e) => e.m.receivedAt));
      const rids = new Map<string, number>();
      await inChunks(entries, async (chunk) => {
        const rows = await insertLogEntries(db, engine, chunk.map(({ m, mailFrom, senderDomain, recipients }) => ({
          node_id: nodeId, id: m.id, received_at: m.receivedAt, client_ip: m.clientIp, helo: m.helo, mail_from: mailFrom, sender_domain: senderDomain,
          rcpt_to: JSON.stringify(recipients), first_rcpt: recipients[0] ?? '', rcpt_count: recipients.length, subject: m.subject, message_id: m.messageId,
          size: m.size, action: m.action, score: m.score, reasons: JSON.stringify(m.reasons), rules_version: m.rulesVersion, status: m.status,
          retained_bytes: m.retainedBytes ?? null, refusal: m.refusal ? JSON.stringify(m.refusal) : null, event_count: m.refusal?.count ?? 1,
        })));
        for (const r of rows) rids.set(r.id, r.rid);
      });
      // The first entry of an id is the one inserted (a second in the same statement conflicts with it).
      const stored = entries.flatMap((e) => {
        const rid = rids.get(e.m.id);
        if (rid === undefined) return [];
        rids.delete(e.m.id);
        return [{ ...e, rid }];
      });
      await inChunks(stored.flatMap((s) => s.recipients.map((rcpt) => ({ rcpt, received_at: s.m.receivedAt, rid: s.rid }))), (rows) =>
        db.insertInto('message_rcpts').values(rows).onConflict((oc) => oc.columns(['rcpt', 'received_at', 'rid']).doNothing()).execute());
      await indexSubjects(db, engine, 'messages', stored.map((s) => ({ rid: s.rid, subject: s.m.subject })));
      for (const { m, mailFrom, senderDomain, recipients } of stored) {
        // An aggregated refusal entry counts as every refusal it stands for.
        rollups.add({ nodeId, receivedAt: m.receivedAt, action: m.action, size: m.size, mailFrom, senderDomain, recipients, reasons: m.reasons, count: m.refusal?.count ?? 1, refusalStage: m.refusal?.stage });
      }
      const ids = stored.map((s) => s.m.id);
      // Delivery statuses that came before their entry, oldest first.
      await delivery(nodeId, (await pending.take(nodeId, ids, 'delivery.status')).map((c) => ({ ord: 0, ev: c.payload as DeliveryStatus })));
      return ids;
    },
    delivery,
  };
}
export type MessageWriter = ReturnType<typeof createMessageWriter>;
