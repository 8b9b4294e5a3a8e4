import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir, type Db } from '@moat/storage';
import { quarantineExpiresAt, quarantineKind, type QuarantineKind, type QuarantineLifetime, type Reason } from '@moat/rules';
import { RoundTimer } from '../store/round-timer.ts';

/** How often the purge runs by itself; also at start and on every rules change. */
export const QUARANTINE_EXPIRY_INTERVAL_MS = 60 * 60 * 1000;
const BATCH = 500;

export interface PurgedMessage {
  readonly id: string;
  readonly size: number;
  readonly kind: QuarantineKind;
  readonly reason: 'age' | 'budget';
}

interface HeldRow {
  id: string;
  file: string;
  created_at: number;
  size: number;
  reasons: string;
}

/**
 * The quarantine lifetime on one scanner (`quarantine` in the rules): held messages past their
 * kind's days are purged (`age`), then the oldest while the held ones take more than `maxBytes`
 * (`budget`). Each batch is one transaction: status `expired` on the quarantine and message rows
 * and a `quarantine.changed` event (`deleted`, `expired: reason`) for the master; the files are
 * unlinked after the commit and the folder fsync'd once (a lost unlink leaves a file without a
 * held row, which the start-up sweep removes). Released mail is in the relay queue, not here.
 * One round at a time; a request while one runs is served by another after it.
 */
export class QuarantineExpiry {
  private readonly db: Db;
  private readonly dir: string;
  private readonly settings: () => QuarantineLifetime;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly rounds = new RoundTimer(() => this.run(), QUARANTINE_EXPIRY_INTERVAL_MS, (err: unknown) => this.log.error({ event: 'QUARANTINE_EXPIRY_ERROR', err }, 'quarantine expiry failed'));
  private running: Promise<PurgedMessage[]> | undefined;
  private readonly heldStmt;
  private readonly commit;

  constructor(deps: { db: Db; dir: string; settings: () => QuarantineLifetime; log: Logger; now: () => number }) {
    this.db = deps.db;
    this.dir = deps.dir;
    this.settings = deps.settings;
    this.log = deps.log;
    this.now = deps.now;
    this.heldStmt = this.db.prepare<[], HeldRow>("SELECT id, file, created_at, size, reasons FROM quarantine WHERE status = 'held' ORDER BY created_at, id");
    const setQuarantine = this.db.prepare("UPDATE quarantine SET status = 'expired' WHERE id = ? AND status = 'held'");
    const setMessage = this.db.prepare("UPDATE messages SET status = 'expired' WHERE id = ?");
    const outbox = this.db.prepare('INSERT INTO outbox (type, payload, created_at) VALUES (?, ?, ?)');
    this.commit = this.db.transaction((batch: readonly PurgedMessage[], at: number) => {
      for (const m of batch) {
        if (setQuarantine.run(m.id).changes === 0) continue; // released or deleted meanwhile
        setMessage.run(m.id);
        outbox.run('quarantine.changed', JSON.stringify({ id: m.id, status: 'deleted', expired: m.reason, at }), at);
      }
    });
  }

  start(): void {
    this.rounds.start();
  }

  stop(): Promise<unknown> {
    this.rounds.stop();
    return this.running ?? Promise.resolve();
  }

  /** Rules changed (shorter days, a smaller budget): a round soon. */
  nudge(): void {
    this.rounds.nudge();
  }

  /** One round now; tests pass `at`, an instant days ahead, instead of waiting for it. */
  async run(at: number = this.now()): Promise<PurgedMessage[]> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.round(at);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Held messages and their bytes now (the `quarantine` disk use this job keeps under the budget). */
  usage(): { messages: number; bytes: number } {
    return this.db.prepare<[], { messages: number; bytes: number }>("SELECT count(*) AS messages, coalesce(sum(size), 0) AS bytes FROM quarantine WHERE status = 'held'").get()!;
  }

  private async round(at: number): Promise<PurgedMessage[]> {
    const settings = this.settings();
    const held = this.heldStmt.all();
    const purge: (PurgedMessage & { file: string })[] = [];
    const kept: (HeldRow & { kind: QuarantineKind })[] = [];
    let keptBytes = 0;
    for (const row of held) {
      const reasons = JSON.parse(row.reasons) as Reason[];
      const kind = quarantineKind(reasons);
      if (quarantineExpiresAt(settings, row.created_at, reasons) <= at) purge.push({ id: row.id, file: row.file, size: row.size, kind, reason: 'age' });
      else {
        kept.push({ ...row, kind });
        keptBytes += row.size;
      }
    }
    for (const row of kept) {
      if (keptBytes <= settings.maxBytes) break;
      purge.push({ id: row.id, file: row.file, size: row.size, kind: row.kind, reason: 'budget' });
      keptBytes -= row.size;
    }
    if (purge.length === 0) return [];
    for (let i = 0; i < purge.length; i += BATCH) {
      const batch = purge.slice(i, i + BATCH);
      this.commit(batch, at);
      await Promise.all(batch.map((m) => unlink(join(this.dir, m.file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.log.error({ event: 'QUARANTINE_EXPIRY_ERROR', queueId: m.id, err }, 'an expired message\'s file could not be removed (swept at the next start)');
      })));
    }
    await fsyncDir(this.dir);
    for (const m of purge) this.log.info({ event: 'QUARANTINE_EXPIRED', queueId: m.id, kind: m.kind, reason: m.reason, size: m.size }, `held message purged (${m.reason})`);
    const usage = this.usage();
    this.log.info({ event: 'QUARANTINE_EXPIRY', purged: purge.length, purgedBytes: purge.reduce((n, m) => n + m.size, 0), keptMessages: usage.messages, keptBytes: usage.bytes, days: settings.days, maxBytes: settings.maxBytes }, 'quarantine lifetime purged held messages');
    return purge.map(({ id, size, kind, reason }) => ({ id, size, kind, reason }));
  }

}
