import { sql, type Kysely } from 'kysely';
import type { DeliveryStatus, MessageLogged } from '@moat/protocol';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { domainOf, normalizeAddress, uniqueRecipients } from './addresses.ts';
import { dsnStatus, foldDelivery, type DeliveryState } from './delivery-state.ts';
import { inChunks } from './in-chunks.ts';
import { insertLogEntries, locateEntries } from './log-entries.ts';
import type { LogPartitions } from './log-partitions.ts';
import type { PendingChanges } from './pending-changes.ts';
import type { Rollups } from './rollups.ts';
import { indexText } from './text-search.ts';

// Typed values of a VALUES list: PostgreSQL takes a bound parameter's type from them (names: column1, column2… on both engines).
const bigint = (v: number | null) => sql`CAST(${v} AS BIGINT)`;
const text = (v: string | null) => sql`CAST(${v} AS TEXT)`;

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
      const keys = await locateEntries(db, nodeId, ids);
      if (keys.length === 0) return;
      const rows = await db.selectFrom('messages')
        .select(['rid', 'received_at', 'id', 'status', 'attempts', 'last_attempt_at', 'delivered', 'deferred', 'bounced', 'delivery_detail'])
        .where('received_at', 'in', [...new Set(keys.map((k) => k.received_at))]).where('rid', 'in', keys.map((k) => k.rid)).execute();
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
    // One statement per chunk (a statement per message was a third of the ingest's time), joined on the log's key; the
    // times again as constants, so that PostgreSQL reads only those days' partitions, by their key (run-time pruning does not reach a join with VALUES).
    const updates = [...states.values()].filter((s) => s.changed || s.dsn !== undefined);
    await inChunks(updates, (chunk) => sql`UPDATE messages SET status = v.column3, attempts = v.column4, last_attempt_at = v.column5, delivered = v.column6,
        deferred = v.column7, bounced = v.column8, delivery_detail = v.column9, dsn_status = CASE WHEN v.column11 = 1 THEN v.column10 ELSE messages.dsn_status END
      FROM (VALUES ${sql.join(chunk.map(({ rid, receivedAt, state: st, dsn }) => sql`(${bigint(receivedAt)}, ${bigint(rid)}, ${text(st.status)}, ${bigint(st.attempts)},
        ${bigint(st.lastAttemptAt)}, ${text(JSON.stringify(st.delivered))}, ${text(JSON.stringify(st.deferred))}, ${text(JSON.stringify(st.bounced))}, ${text(st.detail)},
        ${text(dsn ?? null)}, ${bigint(dsn === undefined ? 0 : 1)})`))}) AS v
      WHERE messages.received_at = v.column1 AND messages.rid = v.column2
        AND messages.received_at IN (${sql.join([...new Set(chunk.map((u) => u.receivedAt))])})`.execute(db), 200);
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
        const recipients = uniqueRecipients(m.rcptTo);
        return { m, mailFrom, senderDomain: domainOf(mailFrom), recipients, rcptTo: JSON.stringify(recipients) };
      });
      await partitions.ensure(db, entries.map((e) => e.m.receivedAt));
      const rids = new Map<string, number>();
      await inChunks(entries, async (chunk) => {
        const rows = await insertLogEntries(db, engine, chunk.map(({ m, mailFrom, senderDomain, recipients, rcptTo }) => ({
          node_id: nodeId, id: m.id, received_at: m.receivedAt, client_ip: m.clientIp, helo: m.helo, mail_from: mailFrom, sender_domain: senderDomain,
          rcpt_to: rcptTo, first_rcpt: recipients[0] ?? '', rcpt_count: recipients.length, subject: m.subject, message_id: m.messageId,
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
      await indexText(db, engine, 'messages', stored.map((s) => ({ rid: s.rid, subject: s.m.subject, mail_from: s.mailFrom, rcpt_to: s.rcptTo })));
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
