/**
 * Per-client-address limits: concurrent sessions and a token bucket of new connections.
 * Pure state with an injected clock, so tests step time instead of sleeping.
 */
export interface ConnectionLimits {
  readonly maxConcurrent: number;
  readonly rateCount: number;
  readonly rateWindowMs: number;
}

export type Admission = { ok: true } | { ok: false; why: 'concurrency' | 'rate' };

interface Bucket {
  tokens: number;
  updatedAt: number;
  active: number;
}

const MAX_TRACKED = 100_000;

export class ConnectionLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly limits: ConnectionLimits;
  private readonly now: () => number;

  constructor(limits: ConnectionLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.now = now;
  }

  /** Admit one new connection from `ip`; on success the caller must `release(ip)` when it ends. */
  admit(ip: string): Admission {
    const bucket = this.refill(ip);
    if (bucket.active >= this.limits.maxConcurrent) return { ok: false, why: 'concurrency' };
    if (bucket.tokens < 1) return { ok: false, why: 'rate' };
    bucket.tokens -= 1;
    bucket.active += 1;
    return { ok: true };
  }

  release(ip: string): void {
    const bucket = this.buckets.get(ip);
    if (bucket && bucket.active > 0) bucket.active -= 1;
  }

  active(ip: string): number {
    return this.buckets.get(ip)?.active ?? 0;
  }

  private refill(ip: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED) this.forgetIdle();
      bucket = { tokens: this.limits.rateCount, updatedAt: now, active: 0 };
      this.buckets.set(ip, bucket);
      return bucket;
    }
    const perMs = this.limits.rateCount / this.limits.rateWindowMs;
    bucket.tokens = Math.min(this.limits.rateCount, bucket.tokens + (now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    return bucket;
  }

  /** Bounded memory under a flood of distinct addresses: drop full, idle buckets. */
  private forgetIdle(): void {
    for (const [ip, b] of this.buckets) if (b.active === 0) this.buckets.delete(ip);
  }
}
