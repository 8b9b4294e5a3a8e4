import { masterDownMs, skewMs } from './timers.ts';

/**
 * The RFC 5798 §6.4 state machine (Initialize / Backup / Master), plus keepalived's FAULT
 * (a tracked check failed: the node gives up the address and ignores adverts until the check
 * recovers), as data in → data out.
 * Timers are absolute deadlines on the injected clock; the driver sleeps until
 * `nextDeadline` and calls `fireTimers`. Line numbers in comments are the RFC's.
 */
export type VrrpState = 'init' | 'backup' | 'master' | 'fault';

export interface ElectionParams {
  /** The effective priority (configured, lowered by failed trackers; see effectivePriority). */
  readonly priority: number;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  /** After start, stay backup (listening for adverts) at least this long before becoming master. */
  readonly startupDelayMs?: number;
  readonly advertIntervalMs: number;
  /** Our own primary address: the tie-break on equal priority (higher address wins). */
  readonly self: string;
}

export interface Election {
  readonly state: VrrpState;
  readonly masterAdverIntervalMs: number;
  readonly masterDownAt: number | null;
  readonly adverAt: number | null;
  /** Address of the master we follow, or ours when master; null when unknown. */
  readonly master: string | null;
  readonly masterPriority: number | null;
  readonly startedAt: number;
  /** The master resigned (priority 0): the master-down timer now runs only for Skew_Time. */
  readonly resigned: boolean;
  /** End of the start-up delay: a backup does not become master before it (0: no delay). */
  readonly holdUntil: number;
}

/** A verified advert from another node. */
export interface Advert {
  readonly priority: number;
  readonly intervalMs: number;
  readonly from: string;
}

export type ElectionAction =
  | { readonly type: 'send'; readonly priority: number }
  | { readonly type: 'transition'; readonly from: VrrpState; readonly to: VrrpState; readonly reason: string }
  | { readonly type: 'discard'; readonly reason: string };

export interface ElectionStep {
  readonly election: Election;
  readonly actions: readonly ElectionAction[];
}

export const initialElection: Election = {
  state: 'init', masterAdverIntervalMs: 0, masterDownAt: null, adverAt: null, master: null, masterPriority: null, startedAt: 0, resigned: false, holdUntil: 0,
};

function ipv4ToNumber(a: string): number | null {
  const m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(a);
  if (!m) return null;
  return m.slice(1).reduce((n, x) => n * 256 + Number(x), 0);
}

/** An IPv6 address (with '::', optionally a dotted IPv4 tail) as a 128-bit number; null if not one. */
export function ipv6ToBigInt(a: string): bigint | null {
  if (!a.includes(':') || a.includes('%')) return null;
  let text = a.toLowerCase();
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const v4 = tail.slice(1).map(Number);
    if (v4.some((n) => n > 255)) return null;
    text = `${text.slice(0, tail.index)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

/** Positive when address a sorts above b (IPv4 and IPv6 numerically, anything else as text). */
export function compareAddress(a: string, b: string): number {
  const x = ipv4ToNumber(a);
  const y = ipv4ToNumber(b);
  if (x !== null && y !== null) return x - y;
  const x6 = ipv6ToBigInt(a);
  const y6 = ipv6ToBigInt(b);
  if (x6 !== null && y6 !== null) return x6 > y6 ? 1 : x6 < y6 ? -1 : 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

function toMaster(e: Election, p: ElectionParams, now: number, reason: string): ElectionStep {
  return {
    election: { ...e, state: 'master', resigned: false, masterDownAt: null, adverAt: now + p.advertIntervalMs, master: p.self, masterPriority: p.priority },
    actions: [{ type: 'send', priority: p.priority }, { type: 'transition', from: e.state, to: 'master', reason }],
  };
}

function followMaster(e: Election, p: ElectionParams, adv: Advert, now: number): Election {
  return {
    ...e,
    masterAdverIntervalMs: adv.intervalMs,
    masterDownAt: now + masterDownMs(p.priority, adv.intervalMs),
    master: adv.from,
    masterPriority: adv.priority,
    resigned: false,
  };
}

/**
 * §6.4.1 Startup: the owner (255) becomes master at once; any other node waits as backup.
 * With a start-up delay (keepalived's vrrp_startup_delay, as a hold rather than a late start)
 * every node, the owner too, starts as backup and listens to adverts; it may become master
 * only once the delay is over, so a restarting node hears the current holder first.
 */
export function startup(p: ElectionParams, now: number): ElectionStep {
  const delay = p.startupDelayMs ?? 0;
  const e: Election = { ...initialElection, startedAt: now, masterAdverIntervalMs: p.advertIntervalMs, holdUntil: delay > 0 ? now + delay : 0 };
  if (p.priority === 255 && delay <= 0) return toMaster(e, p, now, 'owner');
  const masterDownAt = p.priority === 255 ? now + delay : now + masterDownMs(p.priority, p.advertIntervalMs);
  return {
    election: { ...e, state: 'backup', masterDownAt },
    actions: [{ type: 'transition', from: 'init', to: 'backup', reason: delay > 0 ? `startup (delay ${delay} ms)` : 'startup' }],
  };
}

/** A tracker's result: a failed tracker with weight 0 means FAULT, a negative weight lowers the priority. */
export interface TrackResult {
  readonly weight: number;
  readonly ok: boolean;
}

/**
 * keepalived's rule: effective = configured + Σ weights of failed trackers, kept within 1…254;
 * an owner (255) keeps 255 (trackers cannot lower it) but still faults on a weight-0 failure.
 */
export function effectivePriority(configured: number, trackers: readonly TrackResult[]): { readonly priority: number; readonly fault: boolean } {
  const failed = trackers.filter((t) => !t.ok);
  const fault = failed.some((t) => t.weight === 0);
  if (configured === 255) return { priority: 255, fault };
  const lowered = configured + failed.reduce((sum, t) => sum + t.weight, 0);
  return { priority: Math.min(254, Math.max(1, lowered)), fault };
}

/**
 * A tracked check failed (weight 0): leave the address. A master resigns with a priority-0
 * advert, as on shutdown, so the best backup takes over after its skew rather than its
 * master-down interval. Adverts are ignored while in FAULT.
 */
export function enterFault(e: Election, _p: ElectionParams, _now: number, reason: string): ElectionStep {
  if (e.state === 'fault' || e.state === 'init') return { election: e, actions: [] };
  const actions: ElectionAction[] = e.state === 'master' ? [{ type: 'send', priority: 0 }] : [];
  actions.push({ type: 'transition', from: e.state, to: 'fault', reason });
  return { election: { ...e, state: 'fault', masterDownAt: null, adverAt: null, master: null, masterPriority: null, resigned: false }, actions };
}

/** Every tracker is fine again: start over as backup (or master at once for the owner), as at startup. */
export function leaveFault(e: Election, p: ElectionParams, now: number, reason: string): ElectionStep {
  if (e.state !== 'fault') return { election: e, actions: [] };
  const base: Election = { ...e, masterAdverIntervalMs: p.advertIntervalMs };
  if (p.priority === 255) return toMaster(base, p, now, reason);
  return {
    election: { ...base, state: 'backup', masterDownAt: now + masterDownMs(p.priority, p.advertIntervalMs) },
    actions: [{ type: 'transition', from: 'fault', to: 'backup', reason }],
  };
}

/**
 * The effective priority changed (params already carry the new one). A master advertises at
 * once, so a better backup with preempt sees the drop now (and ignores it by discarding, its
 * master-down timer then running out) and a restored master reasserts itself without waiting.
 */
export function priorityChanged(e: Election, p: ElectionParams, now: number): ElectionStep {
  if (e.state !== 'master') return { election: e, actions: [] };
  return { election: { ...e, masterPriority: p.priority, adverAt: now + p.advertIntervalMs }, actions: [{ type: 'send', priority: p.priority }] };
}

/** Shutdown: a master resigns with a priority-0 advert (660–670); a backup just stops (350–355). */
export function shutdown(e: Election, _p: ElectionParams, _now: number): ElectionStep {
  if (e.state === 'init') return { election: e, actions: [] };
  const actions: ElectionAction[] = e.state === 'master' ? [{ type: 'send', priority: 0 }] : [];
  actions.push({ type: 'transition', from: e.state, to: 'init', reason: 'shutdown' });
  return { election: { ...e, state: 'init', masterDownAt: null, adverAt: null, master: null, masterPriority: null }, actions };
}

/** Fire every timer that is due at `now`. */
export function fireTimers(e: Election, p: ElectionParams, now: number): ElectionStep {
  if (e.state === 'backup' && e.masterDownAt !== null && now >= e.masterDownAt && now >= e.holdUntil) {
    const reason = e.resigned ? 'master resigned' : p.priority === 255 && e.master === null ? 'owner' : 'master-down timer';
    return toMaster(e, p, now, reason); // 370–410
  }
  if (e.state === 'master' && e.adverAt !== null && now >= e.adverAt) {
    return { election: { ...e, adverAt: now + p.advertIntervalMs }, actions: [{ type: 'send', priority: p.priority }] }; // 685–690
  }
  return { election: e, actions: [] };
}

export function nextDeadline(e: Election): number | null {
  if (e.state === 'backup') return e.masterDownAt === null ? null : Math.max(e.masterDownAt, e.holdUntil);
  if (e.state === 'master') return e.adverAt;
  return null;
}

/** An advert that passed the auth, replay and vrid checks. */
export function receive(e: Election, p: ElectionParams, adv: Advert, now: number): ElectionStep {
  if (e.state === 'backup') {
    if (adv.priority === 0) {
      // 425–430: the master resigned; take over after Skew_Time, best backup first.
      return { election: { ...e, masterDownAt: now + skewMs(p.priority, e.masterAdverIntervalMs), master: null, masterPriority: null, resigned: true }, actions: [] };
    }
    const inPreemptDelay = now - e.startedAt < p.preemptDelayMs;
    if (!p.preempt || adv.priority >= p.priority || inPreemptDelay) {
      return { election: followMaster(e, p, adv, now), actions: [] }; // 445–460
    }
    // 465–470: preempt on and the master is weaker: let our master-down timer run out.
    return { election: e, actions: [{ type: 'discard', reason: 'lower priority, preempting' }] };
  }
  if (e.state === 'master') {
    if (adv.priority === 0) {
      // 705–715: another master resigned; assert ourselves at once.
      return { election: { ...e, adverAt: now + p.advertIntervalMs }, actions: [{ type: 'send', priority: p.priority }] };
    }
    if (adv.priority > p.priority || (adv.priority === p.priority && compareAddress(adv.from, p.self) > 0)) {
      // 725–765: a better master exists.
      return {
        election: { ...followMaster(e, p, adv, now), state: 'backup', adverAt: null },
        actions: [{ type: 'transition', from: 'master', to: 'backup', reason: `higher priority advert from ${adv.from}` }],
      };
    }
    // 775 says discard; like keepalived we also advertise at once so a split brain heals fast.
    return {
      election: { ...e, adverAt: now + p.advertIntervalMs },
      actions: [{ type: 'discard', reason: 'lower priority master' }, { type: 'send', priority: p.priority }],
    };
  }
  return { election: e, actions: [{ type: 'discard', reason: e.state === 'fault' ? 'in fault' : 'not running' }] };
}
