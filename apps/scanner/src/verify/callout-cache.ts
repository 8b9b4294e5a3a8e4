import type { CalloutResult } from '@moat/protocol';

/** Asks the cluster's cache on the master; rejects when it cannot answer in time (the caller probes then). */
export type CalloutCacheLink = {
  get(address: string, timeoutMs: number): Promise<{ result?: CalloutResult | undefined; expiresAt?: number | undefined }>;
  put(address: string, result: CalloutResult, expiresAt: number): void;
};

interface Entry {
  readonly result: CalloutResult;
  readonly expiresAt: number;
}

/**
 * Call-out results, cluster-wide: a probe made by one scanner answers the next lookup of the same
 * address on every scanner, until its TTL (positive: the mailbox exists; negative: it does not).
 * An accept-all server is remembered for its whole domain (`*@domain`), so it is not probed
 * for every address. This node keeps what it learnt (memory, bounded, least recently used out)
 * and asks the master before it probes; the master down, the node probes and keeps its own.
 */
export class CalloutCache {
  private readonly entries = new Map<string, Entry>();
  private readonly link: CalloutCacheLink | undefined;
  private readonly now: () => number;
  private readonly max: number;

  constructor(deps: { link?: CalloutCacheLink | undefined; now: () => number; maxEntries?: number }) {
    this.link = deps.link;
    this.now = deps.now;
    this.max = deps.maxEntries ?? 100_000;
  }

  async lookup(address: string, timeoutMs: number): Promise<{ result: CalloutResult; from: 'local' | 'master' } | undefined> {
    const domainKey = `*@${address.slice(address.lastIndexOf('@') + 1)}`;
    for (const key of [address, domainKey]) {
      const local = this.fresh(key);
      if (local) return { result: local.result, from: 'local' };
    }
    if (!this.link) return undefined;
    try {
      const r = await this.link.get(address, timeoutMs);
      if (r.result !== undefined && r.expiresAt !== undefined && r.expiresAt > this.now()) {
        this.keep(r.result === 'accept-all' ? domainKey : address, { result: r.result, expiresAt: r.expiresAt });
        return { result: r.result, from: 'master' };
      }
    } catch {
      // The master is out of reach or slow: the probe decides, and this node keeps its result.
    }
    return undefined;
  }

  store(address: string, result: CalloutResult, ttlSeconds: number): void {
    const key = result === 'accept-all' ? `*@${address.slice(address.lastIndexOf('@') + 1)}` : address;
    const expiresAt = this.now() + ttlSeconds * 1000;
    this.keep(key, { result, expiresAt });
    this.link?.put(key, result, expiresAt);
  }

  private fresh(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt > this.now()) return e;
    this.entries.delete(key);
    return undefined;
  }

  private keep(key: string, e: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
}
