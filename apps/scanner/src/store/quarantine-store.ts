import { link } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '@moat/storage';
import { fsyncDir, removeDurably } from '@moat/storage';
import type { QueueEntry } from './message-store.ts';

export interface QuarantinedMessage {
  readonly id: string;
  readonly file: string;
  readonly status: 'held' | 'released' | 'deleted';
  readonly mailFrom: string;
  readonly rcptTo: string[];
}

interface Row {
  id: string;
  file: string;
  status: QuarantinedMessage['status'];
  mail_from: string;
  rcpt_to: string;
}

/** Quarantine actions the master asks for: read, release (into the relay queue), delete. */
export interface QuarantineStore {
  get(id: string): QuarantinedMessage | undefined;
  path(q: QuarantinedMessage): string;
  release(id: string, prependHeaders: readonly string[], now: number): Promise<'released' | 'not-found' | 'not-held'>;
  /** Queue a copy for some of its recipients only (as a new queue entry); the message stays held for the others. */
  releaseTo(id: string, rcptTo: readonly string[], prependHeaders: readonly string[], now: number, queueId: string): Promise<'released' | 'not-found' | 'not-held' | 'not-recipient'>;
  remove(id: string, now: number): Promise<'deleted' | 'not-found'>;
  /** Files that must stay: the held ones. */
  heldFiles(): Set<string>;
  /** Whether the message was ever held here (held, released, deleted or expired). */
  wasQuarantined(id: string): boolean;
}

export function createQuarantineStore(db: Db, dirs: { quarantine: string; queue: string }): QuarantineStore {
  const getStmt = db.prepare<[string], Row>('SELECT id, file, status, mail_from, rcpt_to FROM quarantine WHERE id = ?');
  const setStatus = db.prepare('UPDATE quarantine SET status = ? WHERE id = ?');
  const setMessageStatus = db.prepare('UPDATE messages SET status = ? WHERE id = ?');
  const insertCopy = db.prepare(`INSERT INTO queue
    (id, message_id, file, mail_from, rcpt_to, prepend_headers, subject_prefix, created_at, next_attempt_at, attempts, last_error, kind)
    VALUES (@id, @messageId, @file, @mailFrom, @rcptTo, @prependHeaders, '', @createdAt, @createdAt, 0, NULL, 'message')`);
  const insertQueue = db.prepare(`INSERT INTO queue
    (id, message_id, file, mail_from, rcpt_to, prepend_headers, subject_prefix, created_at, next_attempt_at, attempts, last_error, kind)
    VALUES (@id, @messageId, @file, @mailFrom, @rcptTo, @prependHeaders, '', @createdAt, @createdAt, 0, NULL, 'message')`);
  const insertOutbox = db.prepare('INSERT INTO outbox (type, payload, created_at) VALUES (?, ?, ?)');
  const heldStmt = db.prepare<[], { file: string }>("SELECT file FROM quarantine WHERE status = 'held'");
  const existsStmt = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM quarantine WHERE id = ?');

  const changed = (id: string, status: 'released' | 'deleted', now: number) =>
    insertOutbox.run('quarantine.changed', JSON.stringify({ id, status, at: now }), now);

  const commitRelease = db.transaction((q: QuarantinedMessage, entry: Omit<QueueEntry, 'subjectPrefix' | 'nextAttemptAt' | 'attempts' | 'lastError' | 'kind'>, now: number) => {
    insertQueue.run({ ...entry, rcptTo: JSON.stringify(entry.rcptTo), prependHeaders: JSON.stringify(entry.prependHeaders) });
    setStatus.run('released', q.id);
    setMessageStatus.run('queued', q.id);
    changed(q.id, 'released', now);
  });
  const commitDelete = db.transaction((id: string, now: number) => {
    setStatus.run('deleted', id);
    setMessageStatus.run('deleted', id);
    changed(id, 'deleted', now);
  });

  const get = (id: string): QuarantinedMessage | undefined => {
    const r = getStmt.get(id);
    return r ? { id: r.id, file: r.file, status: r.status, mailFrom: r.mail_from, rcptTo: JSON.parse(r.rcpt_to) as string[] } : undefined;
  };

  return {
    get,
    path: (q) => join(dirs.quarantine, q.file),
    heldFiles: () => new Set(heldStmt.all().map((r) => r.file)),
    wasQuarantined: (id) => existsStmt.get(id) !== undefined,

    /**
     * Hard-link the file into the queue, commit, then drop the quarantine name: a crash at any
     * point leaves the message either still held or queued, never gone.
     */
    async release(id, prependHeaders, now) {
      const q = get(id);
      if (!q) return 'not-found';
      if (q.status !== 'held') return 'not-held';
      const queued = join(dirs.queue, q.file);
      await link(join(dirs.quarantine, q.file), queued);
      await fsyncDir(dirs.queue);
      commitRelease(q, { id: q.id, messageId: q.id, file: q.file, mailFrom: q.mailFrom, rcptTo: q.rcptTo, prependHeaders, createdAt: now }, now);
      await removeDurably(join(dirs.quarantine, q.file));
      return 'released';
    },

    /**
     * A second hard link of the held file into the queue under a new name: the relay removes
     * its name after delivery, the quarantine keeps its own. The file is in the queue folder
     * (fsync'd) before the row that points at it.
     */
    async releaseTo(id, rcptTo, prependHeaders, now, queueId) {
      const q = get(id);
      if (!q) return 'not-found';
      if (q.status !== 'held') return 'not-held';
      const wanted = new Set(rcptTo.map((r) => r.toLowerCase()));
      const chosen = q.rcptTo.filter((r) => wanted.has(r.toLowerCase()));
      if (new Set(chosen.map((r) => r.toLowerCase())).size !== wanted.size) return 'not-recipient';
      const file = `${queueId}.eml`;
      await link(join(dirs.quarantine, q.file), join(dirs.queue, file));
      await fsyncDir(dirs.queue);
      insertCopy.run({ id: queueId, messageId: q.id, file, mailFrom: q.mailFrom, rcptTo: JSON.stringify(chosen), prependHeaders: JSON.stringify(prependHeaders), createdAt: now });
      return 'released';
    },

    async remove(id, now) {
      const q = get(id);
      if (!q || q.status === 'deleted') return 'not-found';
      commitDelete(id, now);
      await removeDurably(join(dirs.quarantine, q.file));
      return 'deleted';
    },
  };
}
