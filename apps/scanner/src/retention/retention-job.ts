import type { Logger } from 'pino';
import type { Retention } from '@moat/rules';
import type { Removed, RetentionStore } from './retention-store.ts';
import { RoundTimer } from '../store/round-timer.ts';

/** How often the expiry job runs by itself; it also runs at start and on every rules change. */
export const EXPIRY_INTERVAL_MS = 60 * 60 * 1000;

/** One line per removed copy, with its queue id, so "where did the copy of X go" is one grep. */
export function logRemoved(log: Logger, removed: Removed): void {
  for (const c of removed.copies) log.info({ event: 'RETAINED_REMOVED', queueId: c.id, reason: removed.reason, size: c.size }, `retained copy removed (${removed.reason})`);
}

/**
 * The expiry job: removes copies past their days, then the oldest while over the budget. Runs
 * one round at a time; a request while a round runs is served by one more round after it.
 */
export class RetentionJob {
  private readonly store: RetentionStore;
  private readonly settings: () => Retention;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly rounds = new RoundTimer(() => this.run(), EXPIRY_INTERVAL_MS, (err: unknown) => this.log.error({ event: 'RETENTION_ERROR', err }, 'retention expiry failed'));
  private running: Promise<Removed[]> | undefined;

  constructor(deps: { store: RetentionStore; settings: () => Retention; log: Logger; now: () => number }) {
    this.store = deps.store;
    this.settings = deps.settings;
    this.log = deps.log;
    this.now = deps.now;
  }

  start(): void {
    this.rounds.start();
  }

  stop(): Promise<unknown> {
    this.rounds.stop();
    return this.running ?? Promise.resolve();
  }

  /** One round now (tests pass `at`, an instant days ahead, instead of waiting for it). */
  async run(at: number = this.now()): Promise<Removed[]> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.round(at);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async round(at: number): Promise<Removed[]> {
    const settings = this.settings();
    const removed = await this.store.expire(settings, at);
    for (const r of removed) logRemoved(this.log, r);
    const copies = removed.reduce((n, r) => n + r.copies.length, 0);
    if (copies > 0) {
      const bytes = removed.reduce((n, r) => n + r.copies.reduce((b, c) => b + c.size, 0), 0);
      const usage = this.store.usage();
      this.log.info({ event: 'RETENTION_EXPIRY', removed: copies, removedBytes: bytes, keptCopies: usage.copies, keptBytes: usage.bytes, days: settings.days, maxBytes: settings.maxBytes }, 'retention expiry removed copies');
    }
    return removed;
  }

  /** Rules changed (days or budget may be smaller now): a round soon. */
  nudge(): void {
    this.rounds.nudge();
  }
}
