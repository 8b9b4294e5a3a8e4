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
  kind: 'message' | 'dsn';
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

  return {
    due: (now: number, limit: number): QueueEntry[] => dueStmt.all(now, limit).map(fromRow),
    nextAttemptAt: (): number | null => nextStmt.get()?.at ?? null,
    get: (id: string): QueueEntry | undefined => {
      const row = getStmt.get(id);
      return row ? fromRow(row) : undefined;
    },
    stats: () => countStmt.get() ?? { n: 0, oldest: null },
    files: (): Set<string> => new Set(filesStmt.all().map((r) => r.file)),
  };
}
export type QueueStore = ReturnType<typeof createQueueStore>;
