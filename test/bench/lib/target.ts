/** What the benchmark needs from every server under test (the scanner and the baselines). */
import { performance } from 'node:perf_hooks';
import type { RssResult } from './rss.ts';
import { StepTimeout } from './proc.ts';

export interface Target {
  /** Short name used in the table. */
  name: string;
  /** Loopback port the load generators connect to. */
  port: number;
  /** Messages that reached the end of this target's pipeline (sink, discard, downstream). */
  delivered: DeliveryCounter;
  /** How `delivered` is counted, for the notes under the table. */
  deliveredHow: string;
  /** Peak memory so far; call before stop(). */
  rss(): RssResult;
  /** CPU (user + system, ms) the target has spent so far: read before and after a run. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * A monotonic count with waiters. Pushed by an event source (`set`) or pulled by a poller
 * (`poll`, called every `pollMs` only while somebody waits).
 */
export class DeliveryCounter {
  private value = 0;
  private waiters: { n: number; resolve: (t: number) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly poll: (() => Promise<number> | number) | undefined;
  private readonly pollMs: number;
  /** Set when the source fails (daemon died); waiters then reject at once. */
  failure: string | undefined;

  constructor(poll?: () => Promise<number> | number, pollMs = 25) {
    this.poll = poll;
    this.pollMs = pollMs;
  }

  count(): number {
    return this.value;
  }

  set(n: number): void {
    if (n <= this.value) return;
    this.value = n;
    const now = performance.now();
    const ready = this.waiters.filter((w) => w.n <= n);
    for (const w of ready) w.resolve(now);
  }

  /** Re-reads a polled source once (no-op for pushed counters). */
  async refresh(): Promise<number> {
    if (this.poll) this.set(await this.poll());
    return this.value;
  }

  /** Resolves with performance.now() at the moment the count reached n. */
  async waitFor(n: number, timeoutMs: number, what: string): Promise<number> {
    await this.refresh();
    if (this.value >= n) return performance.now();
    const deadline = Date.now() + timeoutMs;
    return new Promise<number>((resolve, reject) => {
      let done = false;
      const waiter = { n, resolve: (t: number) => finish(undefined, t) };
      const finish = (err: Error | undefined, t?: number): void => {
        if (done) return;
        done = true;
        clearInterval(check);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        if (this.timer && this.waiters.length === 0) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
        if (err) reject(err);
        else resolve(t as number);
      };
      this.waiters.push(waiter);
      const check = setInterval(() => {
        if (this.failure) finish(new Error(`${what}: ${this.failure} (delivered ${this.value} of ${n})`));
        else if (Date.now() > deadline) finish(new StepTimeout(`time-out after ${Math.round(timeoutMs / 1000)} s: ${what} (delivered ${this.value} of ${n})`));
      }, 100);
      if (this.poll && !this.timer) {
        let busy = false;
        this.timer = setInterval(() => {
          if (busy) return;
          busy = true;
          Promise.resolve(this.poll?.())
            .then((v) => this.set(v ?? 0))
            .catch((err: Error) => {
              this.failure = err.message;
            })
            .finally(() => {
              busy = false;
            });
        }, this.pollMs);
      }
    });
  }
}
