import type { UpstreamConfig } from './config.ts';

/**
 * Upstream selection, copied from nginx's smooth weighted round-robin
 * (ngx_stream_upstream_round_robin.c: get_peer, free_round_robin_peer) with its passive
 * health (max_fails / fail_timeout), `backup` and `down`. Pure: a pool in, a new pool out.
 */
export interface Peer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly backup: boolean;
  readonly down: boolean;
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  readonly maxConns: number;
  readonly effectiveWeight: number;
  readonly currentWeight: number;
  readonly fails: number;
  /** Start of the current fail window (nginx `checked`). */
  readonly checked: number;
  /** Time of the last failure (nginx `accessed`). */
  readonly accessed: number;
  readonly conns: number;
  /** Set by the active health check; passive accounting never overrides it. */
  readonly healthy: boolean;
}

export type Pool = readonly Peer[];

export function createPool(upstreams: readonly UpstreamConfig[]): Pool {
  return upstreams.map((u) => ({
    name: u.name, host: u.host, port: u.port, weight: u.weight, backup: u.backup, down: u.down,
    maxFails: u.maxFails, failTimeoutMs: u.failTimeoutMs, maxConns: u.maxConns,
    effectiveWeight: u.weight, currentWeight: 0, fails: 0, checked: 0, accessed: 0, conns: 0, healthy: true,
  }));
}

/** nginx rule: in a group of one, passive failures never block the peer. */
function blockedByFails(p: Peer, groupSize: number, now: number): boolean {
  return groupSize > 1 && p.maxFails > 0 && p.fails >= p.maxFails && now - p.checked <= p.failTimeoutMs;
}

/** Whether a new connection may go to this peer now (ignores round-robin order). */
export function usable(pool: Pool, p: Peer, now: number): boolean {
  const groupSize = pool.filter((q) => q.backup === p.backup).length;
  return !p.down && p.healthy && !blockedByFails(p, groupSize, now) && !(p.maxConns > 0 && p.conns >= p.maxConns);
}

export interface Pick {
  readonly pool: Pool;
  readonly peer: Peer | null;
}

function pickFrom(pool: Pool, backup: boolean, tried: ReadonlySet<string>, now: number): Pick {
  const group = pool.filter((p) => p.backup === backup);
  const next = new Map<string, Peer>();
  let best: Peer | null = null;
  let total = 0;
  for (const p of group) {
    if (tried.has(p.name) || !usable(pool, p, now)) continue;
    const q = {
      ...p,
      currentWeight: p.currentWeight + p.effectiveWeight,
      effectiveWeight: p.effectiveWeight < p.weight ? p.effectiveWeight + 1 : p.effectiveWeight,
    };
    total += p.effectiveWeight;
    next.set(q.name, q);
    if (best === null || q.currentWeight > best.currentWeight) best = q;
  }
  if (best === null) return { pool, peer: null };
  const chosen: Peer = {
    ...best,
    currentWeight: best.currentWeight - total,
    checked: now - best.checked > best.failTimeoutMs ? now : best.checked,
    conns: best.conns + 1,
  };
  next.set(chosen.name, chosen);
  return { pool: pool.map((p) => next.get(p.name) ?? p), peer: chosen };
}

/**
 * Choose the next peer, skipping those in `tried`; backups only when no primary is usable.
 * The chosen peer's `conns` is incremented; call `release` when its connection ends.
 */
export function pick(pool: Pool, tried: ReadonlySet<string>, now: number): Pick {
  const primary = pickFrom(pool, false, tried, now);
  return primary.peer ? primary : pickFrom(pool, true, tried, now);
}

function update(pool: Pool, name: string, f: (p: Peer) => Peer): Pool {
  return pool.map((p) => (p.name === name ? f(p) : p));
}

/** A failed attempt (refused, timed out, bad or no greeting): nginx free_peer with NGX_PEER_FAILED. */
export function fail(pool: Pool, name: string, now: number): Pool {
  return update(pool, name, (p) => ({
    ...p,
    fails: p.fails + 1,
    accessed: now,
    checked: now,
    effectiveWeight: p.maxFails > 0 ? Math.max(0, p.effectiveWeight - Math.floor(p.weight / p.maxFails)) : p.effectiveWeight,
  }));
}

/** A successful attempt: the fail count resets once the fail window has moved on. */
export function succeed(pool: Pool, name: string): Pool {
  return update(pool, name, (p) => (p.accessed < p.checked ? { ...p, fails: 0 } : p));
}

export function release(pool: Pool, name: string): Pool {
  return update(pool, name, (p) => ({ ...p, conns: Math.max(0, p.conns - 1) }));
}

export function setHealthy(pool: Pool, name: string, healthy: boolean): Pool {
  return update(pool, name, (p) => ({ ...p, healthy }));
}


/** Settings pushed by the master (an admin drains a node, or changes its weight). */
export interface UpstreamChange {
  readonly down?: boolean;
  readonly weight?: number;
  readonly backup?: boolean;
}

/**
 * Settings pushed by the master (an admin drains a node, or changes its weight or makes it a
 * backup). Unknown names are ignored. Moving a peer between the primary and backup groups
 * resets its round-robin position (nginx keeps the two groups as separate lists).
 */
export function updateUpstream(pool: Pool, name: string, change: UpstreamChange): Pool {
  return update(pool, name, (p) => {
    const weight = change.weight ?? p.weight;
    const backup = change.backup ?? p.backup;
    return {
      ...p, down: change.down ?? p.down, weight, backup,
      effectiveWeight: Math.min(p.effectiveWeight, weight),
      currentWeight: backup === p.backup ? p.currentWeight : 0,
    };
  });
}
