import type { Db } from '@moat/storage';
import type { DeliveryStatus, MessageLogged } from '@moat/protocol';
import { domainOf, normalizeAddress, uniqueRecipients } from './addresses.ts';
import { dsnStatus, foldDelivery, type DeliveryState } from './delivery-state.ts';
import type { PendingChanges } from './pending-changes.ts';
import type { Rollups } from './rollups.ts';

interface StateRow {
  rid: number;
  status: string;
  attempts: number;
  last_attempt_at: number | null;
  delivered: string;
  deferred: string;
  bounced: string;
  delivery_detail: string;
}

/** Applies `message.logged` and `delivery.status` to the message log. Runs inside the ingest's transaction. */
export function createMessageWriter(db: Db, rollups: Rollups, pending: PendingChanges) {
  // DO NOTHING on a second log entry for the same message: the first one counted in the
  // roll-ups, and a message is logged once by its scanner.
  const insert = db.prepare<unknown[], { rid: number }>(`INSERT INTO messages
    (node_id, id, received_at, client_ip, helo, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count,
     subject, message_id, size, action, score, reasons, rules_version, status, retained_bytes, refusal, event_count)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id, node_id) DO NOTHING RETURNING rid`);
  const insertRcpt = db.prepare('INSERT OR IGNORE INTO message_rcpts (rcpt, received_at, rid) VALUES (?, ?, ?)');
  const insertFts = db.prepare('INSERT INTO messages_fts (rowid, subject) VALUES (?, ?)');
  const selectState = db.prepare<[string, string], StateRow>(`SELECT rid, status, attempts, last_attempt_at, delivered, deferred, bounced, delivery_detail
    FROM messages WHERE id = ? AND node_id = ?`);
  const updateState = db.prepare(`UPDATE messages SET status = ?, attempts = ?, last_attempt_at = ?, delivered = ?, deferred = ?, bounced = ?, delivery_detail = ?
    WHERE rid = ?`);
  const updateDsn = db.prepare('UPDATE messages SET dsn_status = ? WHERE rid = ?');

  function delivery(nodeId: string, ord: number, ev: DeliveryStatus): void {
    const row = selectState.get(ev.id, nodeId);
    if (!row) return pending.hold(nodeId, ev.id, ord, 'delivery.status', ev);
    if (ev.kind === 'dsn') {
      updateDsn.run(dsnStatus(ev), row.rid);
      return;
    }
    const before: DeliveryState = {
      status: row.status, attempts: row.attempts, lastAttemptAt: row.last_attempt_at, detail: row.delivery_detail,
      delivered: JSON.parse(row.delivered) as string[], deferred: JSON.parse(row.deferred) as string[], bounced: JSON.parse(row.bounced) as string[],
    };
    const s = foldDelivery(before, ev);
    updateState.run(s.status, s.attempts, s.lastAttemptAt, JSON.stringify(s.delivered), JSON.stringify(s.deferred), JSON.stringify(s.bounced), s.detail, row.rid);
  }

  return {
    logged(nodeId: string, m: MessageLogged): void {
      const mailFrom = normalizeAddress(m.mailFrom);
      const senderDomain = domainOf(mailFrom);
      const recipients = uniqueRecipients(m.rcptTo);
      const row = insert.get(
        nodeId, m.id, m.receivedAt, m.clientIp, m.helo, mailFrom, senderDomain, JSON.stringify(recipients), recipients[0] ?? '', recipients.length,
        m.subject, m.messageId, m.size, m.action, m.score, JSON.stringify(m.reasons), m.rulesVersion, m.status, m.retainedBytes ?? null,
        m.refusal ? JSON.stringify(m.refusal) : null, m.refusal?.count ?? 1,
      );
      if (!row) return;
      for (const r of recipients) insertRcpt.run(r, m.receivedAt, row.rid);
      insertFts.run(row.rid, m.subject);
      // An aggregated refusal entry counts as every refusal it stands for.
      rollups.add({ nodeId, receivedAt: m.receivedAt, action: m.action, size: m.size, mailFrom, senderDomain, recipients, reasons: m.reasons, count: m.refusal?.count ?? 1, refusalStage: m.refusal?.stage });
      for (const change of pending.take(nodeId, m.id, 'delivery.status')) delivery(nodeId, 0, change as DeliveryStatus);
    },
    delivery,
  };
}
export type MessageWriter = ReturnType<typeof createMessageWriter>;
