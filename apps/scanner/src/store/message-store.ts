import { GroupCommitter, type Db } from '@moat/storage';
import type { Action, Reason } from '@moat/rules';
import type { MessageLogged } from '@moat/protocol';
import type { AttemptOutcome } from '../relay/outcome.ts';
import type { Removed, RetainedInput, RetentionStore } from '../retention/retention-store.ts';

/** One message as the log and the master see it. */
export interface MessageRecord {
  readonly id: string;
  readonly receivedAt: number;
  readonly clientIp: string;
  readonly helo: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly subject: string;
  readonly messageId: string;
  readonly size: number;
  readonly action: Action;
  readonly score: number;
  readonly reasons: readonly Reason[];
  readonly rulesVersion: number;
  /** queued | quarantined | rejected | delivered | bounced */
  readonly status: string;
}

export interface QueueEntry {
  readonly id: string;
  readonly messageId: string;
  readonly file: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly prependHeaders: readonly string[];
  readonly subjectPrefix: string;
  readonly createdAt: number;
  readonly nextAttemptAt: number;
  readonly attempts: number;
  readonly lastError: string | null;
  /** `injected`: composed by the master (a quarantine digest); relayed like mail, never logged to the master. */
  readonly kind: 'message' | 'dsn' | 'injected';
}

/** Each write resolves once its transaction is committed (on disk): only then may a 250 go out. */
export interface MessageStore {
  recordRejected(m: MessageRecord): Promise<void>;
  /** With `retained`: the copy is indexed too; resolves with the older copies dropped to stay in budget (files to unlink). */
  recordQueued(m: MessageRecord, q: QueueEntry, retained?: RetainedInput): Promise<Removed | undefined>;
  recordQuarantined(m: MessageRecord, file: string, retained?: RetainedInput): Promise<Removed | undefined>;
  recordAttempt(entry: QueueEntry, outcome: AttemptOutcome, now: number, dsn?: QueueEntry): Promise<void>;
  /**
   * A transaction refused at connect, MAIL FROM or RCPT TO (smtp/refusal-log.ts). Only its
   * outbox event is written: nothing was received, so there is no local row to keep.
   */
  recordRefused(entry: MessageLogged): Promise<void>;
}

/**
 * Every write about a message's fate, each in one transaction together with its outbox
 * event, so the master learns exactly what happened here and nothing else.
 */
export interface MessageStoreOptions {
  /** Told after each commit that carried outbox events (the link sends them). */
  readonly onOutbox?: () => void;
  readonly retention?: RetentionStore;
  /** Makes commits durable off the event loop (a `walSync` of a `synchronous: 'normal'` database); without it the database must be `full`. */
  readonly sync?: () => Promise<void>;
}

export function createMessageStore(db: Db, options: MessageStoreOptions = {}): MessageStore {
  const { onOutbox = () => undefined, retention, sync } = options;
  const insertMessage = db.prepare(`INSERT INTO messages
    (id, received_at, client_ip, helo, mail_from, rcpt_to, subject, message_id, size, action, score, reasons, rules_version, status)
    VALUES (@id, @receivedAt, @clientIp, @helo, @mailFrom, @rcptTo, @subject, @messageId, @size, @action, @score, @reasons, @rulesVersion, @status)`);
  const insertQuarantine = db.prepare(`INSERT INTO quarantine
    (id, file, created_at, mail_from, rcpt_to, subject, size, score, reasons)
    VALUES (@id, @file, @createdAt, @mailFrom, @rcptTo, @subject, @size, @score, @reasons)`);
  const insertQueue = db.prepare(`INSERT INTO queue
    (id, message_id, file, mail_from, rcpt_to, prepend_headers, subject_prefix, created_at, next_attempt_at, attempts, last_error, kind)
    VALUES (@id, @messageId, @file, @mailFrom, @rcptTo, @prependHeaders, @subjectPrefix, @createdAt, @nextAttemptAt, @attempts, @lastError, @kind)`);
  const insertOutbox = db.prepare('INSERT INTO outbox (type, payload, created_at) VALUES (?, ?, ?)');
  const updateStatus = db.prepare('UPDATE messages SET status = ? WHERE id = ?');
  const deferStmt = db.prepare('UPDATE queue SET rcpt_to = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?');
  const deleteQueueStmt = db.prepare('DELETE FROM queue WHERE id = ?');

  function emit(type: string, payload: unknown, now: number): void {
    insertOutbox.run(type, JSON.stringify(payload), now);
  }
  function messageParams(m: MessageRecord) {
    return { ...m, rcptTo: JSON.stringify(m.rcptTo), reasons: JSON.stringify(m.reasons) };
  }
  function queueParams(q: QueueEntry) {
    return { ...q, rcptTo: JSON.stringify(q.rcptTo), prependHeaders: JSON.stringify(q.prependHeaders) };
  }


  /**
   * Run a transaction through the group committer (concurrent messages share one fsync),
   * then tell the outbox reader that new events are committed.
   */
  const committer = new GroupCommitter(db, { sync });
  const notifying = <A extends unknown[], R>(tx: (...args: A) => R) => async (...args: A): Promise<R> => {
    const result = await committer.run(() => tx(...args));
    onOutbox();
    return result;
  };

  /** The log entry, and the retained copy's row when one was kept (in the same transaction). */
  function logged(m: MessageRecord, retained: RetainedInput | undefined): Removed | undefined {
    if (!retained || !retention) {
      emit('message.logged', m, m.receivedAt);
      return undefined;
    }
    emit('message.logged', { ...m, retainedBytes: retained.size }, m.receivedAt);
    return retention.insert(m, retained, m.receivedAt);
  }

  return {
    recordRefused: notifying(db.transaction((entry: MessageLogged) => {
      emit('message.logged', entry, entry.receivedAt);
    })),

    /** A refused message: only its log entry is kept. */
    recordRejected: notifying(db.transaction((m: MessageRecord) => {
      insertMessage.run(messageParams(m));
      emit('message.logged', m, m.receivedAt);
    })),

    /** An accepted message whose file is already durably in the queue folder. */
    recordQueued: notifying(db.transaction((m: MessageRecord, q: QueueEntry, retained?: RetainedInput) => {
      insertMessage.run(messageParams(m));
      insertQueue.run(queueParams(q));
      return logged(m, retained);
    })),

    /** A quarantined message whose file is already durably in the quarantine folder. */
    recordQuarantined: notifying(db.transaction((m: MessageRecord, file: string, retained?: RetainedInput) => {
      insertMessage.run(messageParams(m));
      insertQuarantine.run({ id: m.id, file, createdAt: m.receivedAt, mailFrom: m.mailFrom, rcptTo: JSON.stringify(m.rcptTo), subject: m.subject, size: m.size, score: m.score, reasons: JSON.stringify(m.reasons) });
      const removed = logged(m, retained);
      emit('quarantine.added', { id: m.id, file, createdAt: m.receivedAt, mailFrom: m.mailFrom, rcptTo: m.rcptTo, subject: m.subject, size: m.size, score: m.score, reasons: m.reasons }, m.receivedAt);
      return removed;
    })),

    /**
     * The outcome of one delivery attempt, with the queue change that goes with it, in one
     * transaction: the queue row is updated or removed and the master hears of it, or neither.
     */
    recordAttempt: notifying(db.transaction((entry: QueueEntry, outcome: AttemptOutcome, now: number, dsn?: QueueEntry) => {
      if (outcome.deferred.length > 0) deferStmt.run(JSON.stringify(outcome.deferred), outcome.nextAttemptAt, outcome.error.slice(0, 1000), entry.id);
      else deleteQueueStmt.run(entry.id);
      if (dsn) insertQueue.run(queueParams(dsn));
      if (entry.kind === 'message') {
        const status = outcome.deferred.length > 0 ? null : outcome.bounced.length === 0 ? 'delivered' : outcome.delivered.length === 0 ? 'bounced' : 'partially-bounced';
        if (status) updateStatus.run(status, entry.messageId);
      }
      // Injected mail (digests) is the master's own: it has no log entry there to update.
      if (entry.kind !== 'injected') emit('delivery.status', {
        id: entry.messageId,
        kind: entry.kind,
        delivered: outcome.delivered,
        deferred: outcome.deferred,
        bounced: outcome.bounced.map((b) => b.address),
        detail: outcome.error.slice(0, 500),
        attempt: entry.attempts + 1,
        at: now,
      }, now);
    })),
  };
}
