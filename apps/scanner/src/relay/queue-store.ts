import type { Db } from '@moat/storage';
import type { QueueEntry } from '../store/message-store.ts';

interface QueueRow {
  id: string;
  message_id: string;
  file: string;
  mail_from: string;
  rcpt_to: string;
  prepend_headers: string;
  subject_prefix: string;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  last_error: string | null;
  kind: QueueEntry['kind'];
}

function fromRow(r: QueueRow): QueueEntry {
  return {
    id: r.id,
    messageId: r.message_id,
    file: r.file,
    mailFrom: r.mail_from,
    rcptTo: JSON.parse(r.rcpt_to) as string[],
    prependHeaders: JSON.parse(r.prepend_headers) as string[],
    subjectPrefix: r.subject_prefix,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    attempts: r.attempts,
    lastError: r.last_error,
    kind: r.kind,
  };
}

/** Reads and updates of the durable relay queue. */
export function createQueueStore(db: Db) {
  const dueStmt = db.prepare<[number, number], QueueRow>('SELECT * FROM queue WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?');
  const nextStmt = db.prepare<[], { at: number | null }>('SELECT min(next_attempt_at) AS at FROM queue');
  const getStmt = db.prepare<[string], QueueRow>('SELECT * FROM queue WHERE id = ?');
  const countStmt = db.prepare<[], { n: number; oldest: number | null }>('SELECT count(*) AS n, min(created_at) AS oldest FROM queue');
  const filesStmt = db.prepare<[], { file: string }>('SELECT file FROM queue');
  const listStmt = db.prepare<[number], QueueRow>('SELECT * FROM queue ORDER BY created_at LIMIT ?');
  const retryStmt = db.prepare('UPDATE queue SET next_attempt_at = ? WHERE id = ?');
  const deleteStmt = db.prepare('DELETE FROM queue WHERE id = ?');
  const messageStatus = db.prepare("UPDATE messages SET status = 'deleted' WHERE id = ?");
  const outbox = db.prepare('INSERT INTO outbox (type, payload, created_at) VALUES (?, ?, ?)');
  const insertStmt = db.prepare(`INSERT INTO queue
    (id, message_id, file, mail_from, rcpt_to, prepend_headers, subject_prefix, created_at, next_attempt_at, attempts, last_error, kind)
    VALUES (?, ?, ?, ?, ?, '[]', '', ?, ?, 0, NULL, 'injected')`);
  const removeTx = db.transaction((entry: QueueEntry, now: number) => {
    deleteStmt.run(entry.id);
    if (entry.kind === 'message') messageStatus.run(entry.messageId);
    if (entry.kind !== 'injected') outbox.run('delivery.status', JSON.stringify({ id: entry.messageId, kind: entry.kind, delivered: [], deferred: [], bounced: [], detail: 'removed from the queue by an administrator', attempt: entry.attempts + 1, at: now }), now);
  });

  return {
    due: (now: number, limit: number): QueueEntry[] => dueStmt.all(now, limit).map(fromRow),
    nextAttemptAt: (): number | null => nextStmt.get()?.at ?? null,
    get: (id: string): QueueEntry | undefined => {
      const row = getStmt.get(id);
      return row ? fromRow(row) : undefined;
    },
    stats: () => countStmt.get() ?? { n: 0, oldest: null },
    files: (): Set<string> => new Set(filesStmt.all().map((r) => r.file)),
    list: (limit: number): QueueEntry[] => listStmt.all(limit).map(fromRow),
    /** Make a deferred message due now (the relay worker must be woken by the caller). */
    retryNow: (id: string, now: number): boolean => retryStmt.run(now, id).changes > 0,
    /** Queue a message the master composed; its file is already durably in the queue folder. */
    inject: (id: string, file: string, mailFrom: string, rcptTo: readonly string[], now: number): void =>
      void insertStmt.run(id, id, file, mailFrom, JSON.stringify(rcptTo), now, now),
    /** Remove a queued message (the caller removes its file after this commits). */
    remove: (entry: QueueEntry, now: number): void => removeTx(entry, now),
  };
}
export type QueueStore = ReturnType<typeof createQueueStore>;
