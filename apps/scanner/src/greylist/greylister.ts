import type { Logger } from 'pino';
import { decideGreylist, greylistKey, type GreylistDecision, type GreylistEntry, type GreylistTimes, type GreylistTriplet, type Greylisting } from '@moat/rules';

/** Asks the master (the cluster's shared greylist); rejects when it cannot answer in time. */
export type AskMaster = (triplet: GreylistTriplet, times: GreylistTimes, timeoutMs: number) => Promise<GreylistDecision>;

export interface GreylisterDeps {
  /** Absent on a stand-alone scanner (no master): the local state is the only state. */
  readonly ask?: AskMaster | undefined;
  readonly now: () => number;
  readonly log: Logger;
  /** Most triplets kept locally; the least recently used go first. */
  readonly maxEntries?: number;
}

export interface GreylistOutcome {
  readonly pass: boolean;
  readonly retryInSeconds: number;
  /** Who decided: the master, this node's cache of a known-good triplet, or this node alone (master out of reach). */
  readonly source: 'master' | 'cache' | 'local';
}

const SWEEP_EVERY_MS = 60_000;

/**
 * A scanner's greylist. The master decides for the whole cluster (a retry that lands on
 * another scanner passes); this node keeps a local table of every triplet it has seen and the
 * master's answers. A known-good triplet in that table passes without asking. When the master
 * is down, refuses, or does not answer within `lookupTimeoutMs`, the local table decides with
 * the same state machine: a retry to this scanner passes after the delay, a retry to another
 * scanner is deferred once more by that scanner. Never fail-open: spam bots do not retry, and
 * a master outage must not switch greylisting off for them.
 */
export class Greylister {
  private readonly deps: GreylisterDeps;
  private readonly entries = new Map<string, GreylistEntry>();
  private readonly maxEntries: number;
  private lastSweep = 0;
  private masterReachable = true;

  constructor(deps: GreylisterDeps) {
    this.deps = deps;
    this.maxEntries = deps.maxEntries ?? 100_000;
  }

  get size(): number {
    return this.entries.size;
  }

  async check(settings: Greylisting, triplet: GreylistTriplet): Promise<GreylistOutcome> {
    const key = greylistKey(triplet);
    const now = this.deps.now();
    this.sweep(now);
    const local = this.entries.get(key);
    if (local && local.passedAt !== null && local.expiresAt > now) {
      return this.keep(key, decideGreylist(settings, local, now), 'cache');
    }
    if (this.deps.ask) {
      try {
        const decision = await this.deps.ask(triplet, settings, settings.lookupTimeoutMs);
        this.reachable(true);
        return this.keep(key, decision, 'master');
      } catch (err) {
        this.reachable(false, err);
      }
    }
    // The clock is read again: the master may have taken up to lookupTimeoutMs.
    return this.keep(key, decideGreylist(settings, this.entries.get(key), this.deps.now()), 'local');
  }

  private keep(key: string, d: GreylistDecision, source: GreylistOutcome['source']): GreylistOutcome {
    this.entries.delete(key); // re-inserted last: the Map's order is the use order
    this.entries.set(key, d.entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return { pass: d.pass, retryInSeconds: d.retryInSeconds, source };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  /** One log line per change, not one per recipient. */
  private reachable(ok: boolean, err?: unknown): void {
    if (ok === this.masterReachable) return;
    this.masterReachable = ok;
    if (ok) this.deps.log.info({ event: 'GREYLIST_SHARED' }, 'greylisting decided by the master again');
    else this.deps.log.warn({ event: 'GREYLIST_LOCAL', error: (err as Error).message }, 'master unavailable for greylisting; deciding from local state');
  }
}
