import type { Db } from '@moat/storage';
import type { QuarantineAdded, QuarantineChanged } from '@moat/protocol';
import { domainOf, normalizeAddress, uniqueRecipients } from './addresses.ts';
import type { PendingChanges } from './pending-changes.ts';

export type QuarantineStatus = 'held' | 'released' | 'deleted' | 'expired';
/** `expired`: purged by the quarantine lifetime on its node (a held message only): final, like `deleted`. */
const RANK: Readonly<Record<QuarantineStatus, number>> = { held: 0, released: 1, deleted: 2, expired: 2 };

/**
 * A quarantined message only moves forward: held → released → deleted (a released message may
 * still be purged; a deleted one has no file to release). Moving by rank, not by timestamp,
 * makes the outcome independent of event order and of clock skew between master and scanner.
 */
const SET_STATUS_SQL = `UPDATE quarantine SET status = ?, status_at = ?
  WHERE id = ? AND node_id = ? AND (CASE status WHEN 'held' THEN 0 WHEN 'released' THEN 1 ELSE 2 END) < ?`;

/** Set a quarantine entry's status if that moves it forward; false if it is missing or already there. */
export function setQuarantineStatus(db: Db, nodeId: string, id: string, status: QuarantineStatus, at: number): boolean {
  return db.prepare(SET_STATUS_SQL).run(status, at, id, nodeId, RANK[status]).changes > 0;
}

/** Applies `quarantine.added` and `quarantine.changed` to the index. Runs inside the ingest's transaction. */
export function createQuarantineWriter(db: Db, pending: PendingChanges) {
  const insert = db.prepare<unknown[], { rid: number }>(`INSERT INTO quarantine
    (node_id, id, file, created_at, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count, subject, size, score, reasons)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id, node_id) DO NOTHING RETURNING rid`);
  const insertRcpt = db.prepare('INSERT OR IGNORE INTO quarantine_rcpts (rcpt, created_at, rid) VALUES (?, ?, ?)');
  const insertFts = db.prepare('INSERT INTO quarantine_fts (rowid, subject) VALUES (?, ?)');
  const exists = db.prepare<[string, string], { rid: number }>('SELECT rid FROM quarantine WHERE id = ? AND node_id = ?');
  const setStatus = db.prepare(SET_STATUS_SQL);

  function changed(nodeId: string, ord: number, ev: QuarantineChanged): void {
    if (!exists.get(ev.id, nodeId)) return pending.hold(nodeId, ev.id, ord, 'quarantine.changed', ev);
    const status: QuarantineStatus = ev.expired ? 'expired' : ev.status;
    setStatus.run(status, ev.at, ev.id, nodeId, RANK[status]);
  }

  return {
    added(nodeId: string, q: QuarantineAdded): void {
      const mailFrom = normalizeAddress(q.mailFrom);
      const recipients = uniqueRecipients(q.rcptTo);
      const row = insert.get(
        nodeId, q.id, q.file, q.createdAt, mailFrom, domainOf(mailFrom), JSON.stringify(recipients), recipients[0] ?? '', recipients.length,
        q.subject, q.size, q.score, JSON.stringify(q.reasons),
      );
      if (!row) return;
      for (const r of recipients) insertRcpt.run(r, q.createdAt, row.rid);
      insertFts.run(row.rid, q.subject);
      for (const change of pending.take(nodeId, q.id, 'quarantine.changed')) changed(nodeId, 0, change as QuarantineChanged);
    },
    changed,
  };
}
export type QuarantineWriter = ReturnType<typeof createQuarantineWriter>;
