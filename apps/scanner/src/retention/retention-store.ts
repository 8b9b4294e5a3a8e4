import { link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '@moat/storage';
import { fsyncDir } from '@moat/storage';
import type { Retention } from '@moat/rules';
import type { QueueEntry } from '../store/message-store.ts';
import { newMessageId } from '../store/ids.ts';

/** What the accepting transaction records about a kept copy (its file is already durably linked). */
export interface RetainedInput {
  readonly file: string;
  readonly size: number;
  /** The header lines and subject prefix the message was (or would have been) delivered with. */
  readonly prependHeaders: readonly string[];
  readonly subjectPrefix: string;
  /** The budget at the time: older copies are dropped in the same transaction to stay under it. */
  readonly maxBytes: number;
}

export interface RetainedCopy {
  readonly id: string;
  readonly file: string;
  readonly size: number;
  readonly createdAt: number;
  readonly verdict: string;
  readonly prependHeaders: readonly string[];
  readonly subjectPrefix: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
}

/** Copies a transaction removed; their files are unlinked by the caller after the commit. */
export interface Removed {
  readonly reason: 'age' | 'budget';
  readonly copies: readonly { readonly id: string; readonly file: string; readonly size: number }[];
}

interface Row {
  id: string;
  file: string;
  size: number;
  created_at: number;
  verdict: string;
  prepend_headers: string;
  subject_prefix: string;
  mail_from: string;
  rcpt_to: string;
}

/** At most this many copies per transaction and per `retained.expired` event. */
const BATCH = 500;
/**
 * At most this many evictions inside one accepting transaction, so a budget lowered by a rules
 * change never stalls a reply: the expiry job (nudged by the change) removes the rest.
 */
const ACCEPT_EVICTIONS = 64;

/**
 * The index of retained copies: the SQL half runs inside the message store's accepting
 * transaction (`insert`), the rest is the expiry job and the master's requests. A file is only
 * ever opened by the name this index holds.
 */
export function createRetentionStore(db: Db, dirs: { retained: string; queue: string }) {
  const insertStmt = db.prepare(`INSERT INTO retained (id, file, size, created_at, verdict, prepend_headers, subject_prefix)
    VALUES (@id, @file, @size, @createdAt, @verdict, @prependHeaders, @subjectPrefix)`);
  const usageStmt = db.prepare<[], { bytes: number; copies: number }>('SELECT bytes, copies FROM retained_usage');
  const getStmt = db.prepare<[string], Row>(`SELECT r.*, m.mail_from, m.rcpt_to FROM retained r JOIN messages m ON m.id = r.id WHERE r.id = ?`);
  const oldestStmt = db.prepare<[number], { id: string; file: string; size: number }>('SELECT id, file, size FROM retained ORDER BY created_at, id LIMIT ?');
  const olderThanStmt = db.prepare<[number, number], { id: string; file: string; size: number }>('SELECT id, file, size FROM retained WHERE created_at < ? ORDER BY created_at, id LIMIT ?');
  const deleteStmt = db.prepare('DELETE FROM retained WHERE id = ?');
  const filesStmt = db.prepare<[], { file: string }>('SELECT file FROM retained');
  const insertOutbox = db.prepare('INSERT INTO outbox (type, payload, created_at) VALUES (?, ?, ?)');
  const insertQueue = db.prepare(`INSERT INTO queue
    (id, message_id, file, mail_from, rcpt_to, prepend_headers, subject_prefix, created_at, next_attempt_at, attempts, last_error, kind)
    VALUES (@id, @messageId, @file, @mailFrom, @rcptTo, @prependHeaders, @subjectPrefix, @createdAt, @createdAt, 0, NULL, 'message')`);

  const usage = () => usageStmt.get() ?? { bytes: 0, copies: 0 };

  /** Delete rows and tell the master, in the caller's transaction. */
  function drop(reason: Removed['reason'], copies: Removed['copies'], now: number): Removed {
    for (const c of copies) deleteStmt.run(c.id);
    if (copies.length > 0) insertOutbox.run('retained.expired', JSON.stringify({ ids: copies.map((c) => c.id), reason, at: now }), now);
    return { reason, copies };
  }

  /** The oldest copies while the total is over `maxBytes`, never `keep` (the copy just added). */
  function overBudget(maxBytes: number, limit: number, keep?: string): Removed['copies'] {
    let excess = usage().bytes - maxBytes;
    if (excess <= 0) return [];
    const out: { id: string; file: string; size: number }[] = [];
    for (const c of oldestStmt.all(limit + 1)) {
      if (excess <= 0 || out.length >= limit) break;
      if (c.id === keep) continue;
      out.push(c);
      excess -= c.size;
    }
    return out;
  }

  const expireAge = db.transaction((before: number, now: number) => drop('age', olderThanStmt.all(before, BATCH), now));
  const expireBudget = db.transaction((maxBytes: number, now: number) => drop('budget', overBudget(maxBytes, BATCH), now));
  const commitRedelivery = db.transaction((entry: QueueEntry) => {
    insertQueue.run({ ...entry, rcptTo: JSON.stringify(entry.rcptTo), prependHeaders: JSON.stringify(entry.prependHeaders) });
  });

  const get = (id: string): RetainedCopy | undefined => {
    const r = getStmt.get(id);
    if (!r) return undefined;
    return {
      id: r.id, file: r.file, size: r.size, createdAt: r.created_at, verdict: r.verdict, subjectPrefix: r.subject_prefix,
      prependHeaders: JSON.parse(r.prepend_headers) as string[], mailFrom: r.mail_from, rcptTo: JSON.parse(r.rcpt_to) as string[],
    };
  };

  return {
    get,
    path: (c: RetainedCopy): string => join(dirs.retained, c.file),
    files: (): Set<string> => new Set(filesStmt.all().map((r) => r.file)),
    usage,

    /**
     * Inside the accepting transaction: index the copy, then drop the oldest ones while the
     * total is over the budget, so the index never holds more than the budget.
     */
    insert(m: { id: string; receivedAt: number; action: string }, r: RetainedInput, now: number): Removed {
      insertStmt.run({ id: m.id, file: r.file, size: r.size, createdAt: m.receivedAt, verdict: m.action, prependHeaders: JSON.stringify(r.prependHeaders), subjectPrefix: r.subjectPrefix });
      return drop('budget', overBudget(r.maxBytes, ACCEPT_EVICTIONS, m.id), now);
    },

    /**
     * One round of the expiry job: copies older than `days`, then the oldest while over the
     * budget (lowered since, or copies kept under an older, larger one). Each batch is one
     * transaction with its event; files are unlinked after the commit and the folder fsync'd
     * once (a lost unlink leaves a file without a row, swept at the next start).
     */
    async expire(settings: Pick<Retention, 'days' | 'maxBytes'>, now: number): Promise<Removed[]> {
      const done: Removed[] = [];
      const before = now - settings.days * 86_400_000;
      for (;;) {
        const r = expireAge(before, now);
        if (r.copies.length === 0) break;
        done.push(r);
        await unlinkAll(r);
      }
      for (;;) {
        const r = expireBudget(settings.maxBytes, now);
        if (r.copies.length === 0) break;
        done.push(r);
        await unlinkAll(r);
      }
      if (done.length > 0) await fsyncDir(dirs.retained);
      return done;
    },

    /** Unlink the files of copies a committed transaction removed. */
    unlinkAll,

    /**
     * Queue the copy for delivery again under a new queue id (the log entry stays the original
     * message's): hard-link it into the queue, fsync, commit the queue row. A crash before the
     * commit leaves a queue file without a row, swept at the next start.
     */
    async redeliver(id: string, rcptTo: readonly string[] | undefined, headers: (queueId: string) => string[], now: number): Promise<{ queueId: string; rcptTo: readonly string[] } | 'not-found'> {
      const c = get(id);
      if (!c) return 'not-found';
      const queueId = newMessageId(now);
      const file = `${queueId}.eml`;
      try {
        await link(join(dirs.retained, c.file), join(dirs.queue, file));
      } catch (err) {
        // Expired between the look-up and the link.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'not-found';
        throw err;
      }
      await fsyncDir(dirs.queue);
      const recipients = rcptTo ?? c.rcptTo;
      commitRedelivery({
        id: queueId, messageId: c.id, file, mailFrom: c.mailFrom, rcptTo: recipients, prependHeaders: [...headers(queueId), ...c.prependHeaders],
        subjectPrefix: c.subjectPrefix, createdAt: now, nextAttemptAt: now, attempts: 0, lastError: null, kind: 'message',
      });
      return { queueId, rcptTo: recipients };
    },
  };

  async function unlinkAll(r: Removed): Promise<void> {
    for (const c of r.copies) await rm(join(dirs.retained, c.file), { force: true });
  }
}
export type RetentionStore = ReturnType<typeof createRetentionStore>;
