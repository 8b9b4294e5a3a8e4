import type { Readable } from 'node:stream';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurably } from '@moat/storage';
import type { MessageStore, QueueEntry } from '../store/message-store.ts';
import type { QueueStore } from './queue-store.ts';
import type { Downstream } from './downstream.ts';
import { HeaderRewriter } from './header-rewrite.ts';
import { planOutcome, type AttemptResult, type RetryPolicy, type AttemptOutcome } from './outcome.ts';
import { buildDsn } from './dsn.ts';
import { newMessageId } from '../store/ids.ts';
import { readMessageFile } from '../memory/buffer-garbage.ts';

export interface RelayWorkerDeps {
  readonly queue: QueueStore;
  readonly messages: MessageStore;
  readonly downstream: Downstream;
  readonly queueDir: string;
  readonly log: Logger;
  readonly now: () => number;
  readonly retry: RetryPolicy;
  readonly concurrency: number;
  readonly hostname: string;
  /** Received Authentication-Results claiming one of these ids are renamed on the way out. */
  readonly authservIds?: readonly string[];
  /**
   * Whether a message was held in the quarantine (and released since): its permanent failure is
   * never bounced. Its sender is a spam's, usually forged: a DSN would be backscatter.
   */
  readonly wasQuarantined?: (messageId: string) => boolean;
}

/** Longest sleep between queue scans, so a clock jump never strands a message. */
const MAX_IDLE_MS = 30_000;
const MAX_DSN_HEADERS = 64 * 1024;

/**
 * Drains the durable relay queue to downstream: a bounded window of messages in flight, each
 * attempt's outcome committed with its outbox event, files removed only after the commit.
 */
export class RelayWorker {
  private readonly deps: RelayWorkerDeps;
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private wakePending = false;
  /**
   * Whether the queue table may hold due entries that are not in flight: set at start, by a
   * wake, and when a handed-in entry found the window full; cleared by a scan that took
   * every due entry. While it is clear, finishing an attempt costs no queue scan.
   */
  private scanNeeded = true;

  constructor(deps: RelayWorkerDeps) {
    this.deps = deps;
  }

  start(): void {
    this.pump();
  }

  /**
   * A message was just queued (its row is committed): start it at once when the window has
   * room, without reading it back from the queue table; otherwise the next scan takes it.
   */
  enqueued(entry: QueueEntry): void {
    if (this.stopped) return;
    if (this.inFlight.size < this.deps.concurrency && !this.inFlight.has(entry.id)) this.launch(entry);
    else this.wake();
  }

  /** Something changed in the queue table (a DSN, a retry requested, mail injected): scan it soon (one scan per turn). */
  wake(): void {
    this.scanNeeded = true;
    if (this.stopped || this.wakePending) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      if (!this.stopped) this.pump();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled(this.inFlight.values());
    this.deps.downstream.close();
  }

  get activeCount(): number {
    return this.inFlight.size;
  }

  private pump(): void {
    if (this.stopped) return;
    const { queue, concurrency, now } = this.deps;
    if (concurrency - this.inFlight.size > 0) {
      const limit = concurrency + this.inFlight.size;
      const due = queue.due(now(), limit);
      let full = false;
      for (const entry of due) {
        if (this.inFlight.has(entry.id)) continue;
        if (this.inFlight.size >= concurrency) {
          full = true;
          break;
        }
        this.launch(entry);
      }
      this.scanNeeded = full || due.length === limit;
    }
    this.scheduleNext();
  }

  private launch(entry: QueueEntry): void {
    const run = this.attempt(entry)
      .catch((err: unknown) => this.deps.log.error({ queueId: entry.messageId, err, event: 'RELAY_ERROR' }, 'relay attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(entry.id);
        // A slot is free: scan only if due entries may be waiting (one scan for every attempt finishing in this turn).
        if (this.scanNeeded) this.wake();
      });
    this.inFlight.set(entry.id, run);
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const next = this.deps.queue.nextAttemptAt();
    const wait = next === null ? MAX_IDLE_MS : Math.max(10, Math.min(MAX_IDLE_MS, next - this.deps.now()));
    this.timer = setTimeout(() => this.pump(), wait);
    this.timer.unref();
  }

  private async attempt(entry: QueueEntry): Promise<void> {
    const { downstream, queueDir, now, retry } = this.deps;
    const path = join(queueDir, entry.file);
    // A DSN or a digest is ours from top to bottom: only received messages are guarded.
    const guard = entry.kind === 'message' ? { authservIds: this.deps.authservIds ?? [] } : undefined;
    let rewriter: HeaderRewriter | undefined;
    let file: Readable | undefined;
    const openMessage = () => {
      file?.destroy();
      const out = new HeaderRewriter(entry.prependHeaders, entry.subjectPrefix, guard);
      const source = readMessageFile(path);
      source.on('error', (err) => out.destroy(err)); // a file that cannot be read fails the attempt
      rewriter = out;
      file = source;
      return source.pipe(out);
    };
    const result = await downstream.send({ from: entry.mailFrom, to: entry.rcptTo }, openMessage, entry.id);
    // Closed after every attempt, whatever happened: a send that gave up before or during DATA
    // left a large file's stream open (one descriptor leaked per retry of a deferred message,
    // 5,500 after 10 minutes of the SMTP fuzzer, before this). A small file holds none.
    file?.destroy();
    if (rewriter && rewriter.renamedAuthResults > 0) {
      this.deps.log.info({ event: 'AUTH_RESULTS_RENAMED', queueId: entry.messageId, count: rewriter.renamedAuthResults }, 'received Authentication-Results claiming our authserv-id renamed');
    }
    if (rewriter && rewriter.renamedVerdicts > 0) {
      this.deps.log.info({ event: 'VERDICT_HEADERS_RENAMED', queueId: entry.messageId, count: rewriter.renamedVerdicts }, 'received X-Spam-* and X-Moat-* header fields renamed');
    }
    const at = now();
    await this.settle(entry, planOutcome(result, entry, retry, at), at);
  }

  /**
   * An administrator gives up on a queued message: every recipient still waiting bounces now
   * (5.0.0 with the last error), with a bounce to the sender as for any permanent failure (none
   * for a DSN, the master's own mail, or a message released from the quarantine). An entry
   * being delivered at this moment is left alone ('busy'): its attempt decides first.
   */
  async bounce(id: string): Promise<'bounced' | 'not-found' | 'busy'> {
    const entry = this.deps.queue.get(id);
    if (!entry) return 'not-found';
    if (this.inFlight.has(id)) return 'busy';
    const at = this.deps.now();
    const diagnostic = `Returned by the gateway's administrator after ${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}${entry.lastError ? `; last error: ${entry.lastError}` : ''}`.slice(0, 900);
    const outcome: AttemptOutcome = {
      delivered: [], deferred: [], nextAttemptAt: at, error: 'bounced by an administrator',
      bounced: entry.rcptTo.map((address) => ({ address, status: '5.0.0', diagnostic })),
    };
    // In flight while it settles, so a queue scan cannot start an attempt on it meanwhile.
    const run = this.settle(entry, outcome, at);
    this.inFlight.set(id, run);
    try {
      await run;
    } finally {
      this.inFlight.delete(id);
    }
    this.deps.log.info({ event: 'QUEUE_BOUNCED', queueId: entry.messageId, kind: entry.kind, rcpt: entry.rcptTo.length }, 'bounced from the queue by the master');
    return 'bounced';
  }

  /** Commit an attempt's outcome with its outbox event (and a DSN for what bounced), then tidy the file. */
  private async settle(entry: QueueEntry, outcome: AttemptOutcome, at: number): Promise<void> {
    let dsn: QueueEntry | undefined;
    if (outcome.bounced.length > 0 && entry.mailFrom !== '' && entry.kind === 'message') {
      if (this.deps.wasQuarantined?.(entry.messageId)) {
        this.deps.log.warn({ event: 'RELAY_NO_DSN', queueId: entry.messageId, rcpt: outcome.bounced.length }, 'a message released from the quarantine failed permanently: no bounce to its sender (backscatter); the failure is in the message log');
      } else dsn = await this.writeDsn(entry, outcome, at);
    }
    await this.deps.messages.recordAttempt(entry, outcome, at, dsn);
    this.logOutcome(entry, outcome);
    // No fsync needed: if the unlink is lost in a crash, the file has no row and is swept at start.
    if (outcome.deferred.length === 0) await unlink(join(this.deps.queueDir, entry.file)).catch(ignoreMissing);
    if (dsn) this.wake();
    else if (outcome.deferred.length > 0) this.scheduleNext(); // its retry may be due before the timer
  }

  private async writeDsn(entry: QueueEntry, outcome: AttemptOutcome, at: number): Promise<QueueEntry> {
    const id = newMessageId(at);
    const file = `${id}.eml`;
    const text = buildDsn({
      reportingMta: this.deps.hostname,
      originalSender: entry.mailFrom,
      arrivalDate: new Date(entry.createdAt),
      queueId: entry.messageId,
      failed: outcome.bounced,
      originalHeaders: await readHeaderBlock(join(this.deps.queueDir, entry.file)),
      now: new Date(at),
    });
    await writeFileDurably(join(this.deps.queueDir, file), text);
    return {
      id, messageId: entry.messageId, file, mailFrom: '', rcptTo: [entry.mailFrom], prependHeaders: [], subjectPrefix: '',
      createdAt: at, nextAttemptAt: at, attempts: 0, lastError: null, kind: 'dsn',
    };
  }

  private logOutcome(entry: QueueEntry, o: AttemptOutcome): void {
    // The queue id on each line without a child logger per message (most runs log none of these at warn).
    const log = this.deps.log;
    const queueId = entry.messageId;
    if (o.delivered.length) log.info({ queueId, event: 'RELAY_DELIVERED', kind: entry.kind, rcpt: o.delivered.length, attempt: entry.attempts + 1 }, 'delivered downstream');
    if (o.deferred.length) log.warn({ queueId, event: 'RELAY_DEFERRED', kind: entry.kind, rcpt: o.deferred.length, attempt: entry.attempts + 1, retryAt: new Date(o.nextAttemptAt).toISOString(), error: o.error.slice(0, 300) }, 'delivery deferred');
    if (o.bounced.length) log.warn({ queueId, event: 'RELAY_BOUNCED', kind: entry.kind, rcpt: o.bounced.length, error: o.error.slice(0, 300) }, 'delivery failed permanently');
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/** The original header block for the DSN, bounded: a bounce never carries the whole message. */
async function readHeaderBlock(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_DSN_HEADERS);
    const { bytesRead } = await handle.read(buf, 0, MAX_DSN_HEADERS, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const end = text.search(/\r?\n\r?\n/);
    return end >= 0 ? text.slice(0, end) : text;
  } finally {
    await handle.close();
  }
}
