import dgram from 'node:dgram';
import net from 'node:net';
import { checkReplay, configHash, decodeAdvert, encodeAdvert, MAX_ADVERT_BYTES, nextStamp } from './advert.ts';
import { trackName, type ElectionConfig } from './config.ts';
import {
  effectivePriority, enterFault, fireTimers, initialElection, leaveFault, nextDeadline, priorityChanged, receive, shutdown, startup,
  type Election, type ElectionParams, type ElectionStep, type VrrpState,
} from './election.ts';
import type { Log } from './log.ts';
import { toCentiseconds } from './timers.ts';

/**
 * Drives the pure election over UDP: one socket bound to this node's address sends adverts to
 * every configured unicast peer and, when `multicast` is set, to the group (a second socket,
 * bound to the group, receives from it). Hooks run in order, one at a time, so a quick
 * master → backup → master never interleaves opening and closing the listener. Trackers
 * (`setTracker`) lower the effective priority or put the node in FAULT.
 */
export interface TransitionInfo {
  readonly from: VrrpState;
  readonly to: VrrpState;
  readonly reason: string;
  readonly priority: number;
}

export interface ElectionHooks {
  /** On becoming master. */
  onMaster?(): Promise<void> | void;
  /** On leaving master (to backup, fault, or init on stop). */
  onBackup?(): Promise<void> | void;
  /** Every transition, after onMaster/onBackup. */
  onTransition?(t: TransitionInfo): Promise<void> | void;
}

export interface ElectionCounters {
  sent: number;
  received: number;
  dropped: Record<string, number>;
  transitions: number;
  configMismatch: number;
}

export interface ElectionStatus {
  readonly nodeId: string;
  readonly state: VrrpState;
  /** As configured. */
  readonly priority: number;
  /** What we advertise: lowered by failed trackers (see effectivePriority). */
  readonly effectivePriority: number;
  /** Trackers (upstream or command check names) and whether each passes. */
  readonly trackers: Readonly<Record<string, boolean>>;
  readonly master: string | null;
  readonly masterPriority: number | null;
  readonly lastTransition: { readonly from: VrrpState; readonly to: VrrpState; readonly reason: string; readonly at: number } | null;
  readonly counters: ElectionCounters;
}

export interface ElectionNode {
  status(): ElectionStatus;
  /** A tracked check's result changed (unknown names are ignored). */
  setTracker(name: string, ok: boolean): void;
  /** Graceful: a master resigns with a priority-0 advert. `abrupt` sends nothing, as a crash would. */
  stop(opts?: { abrupt?: boolean }): Promise<void>;
}

export async function startElection(cfg: ElectionConfig, hooks: ElectionHooks, log: Log, now: () => number = Date.now): Promise<ElectionNode> {
  let params: ElectionParams = {
    priority: cfg.priority, preempt: cfg.preempt, preemptDelayMs: cfg.preemptDelayMs, startupDelayMs: cfg.startupDelayMs,
    advertIntervalMs: toCentiseconds(cfg.advertIntervalMs) * 10, self: canonicalHost(cfg.bind.host),
  };
  const hash = configHash(cfg.vrid, params.advertIntervalMs);
  const peers = new Set(cfg.peers.map((p) => `${canonicalHost(p.host)}:${p.port}`));
  const inFlight = new Set<Promise<void>>();
  const counters: ElectionCounters = { sent: 0, received: 0, dropped: {}, transitions: 0, configMismatch: 0 };
  let election: Election = initialElection;
  let seen: ReadonlyMap<string, number> = new Map();
  let stamp = 0;
  let lastTransition: ElectionStatus['lastTransition'] = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let hookChain: Promise<void> = Promise.resolve();
  const trackers = new Map(cfg.track.map((t) => [trackName(t), { weight: t.weight, ok: true }]));
  const mc = cfg.multicast ? { ...cfg.multicast, iface: cfg.multicast.interface ?? cfg.bind.host } : null;

  const socket = await bindUdp(cfg.bind.port, cfg.bind.host, false);
  socket.on('error', (err) => log.warn({ event: 'ha.socket_error', err: err.message }, 'election socket error'));
  let group: dgram.Socket | null = null;
  if (mc) {
    socket.setMulticastInterface(mc.iface);
    socket.setMulticastTTL(mc.ttl);
    socket.setMulticastLoopback(true); // other nodes on this host hear us; our own copy is dropped by nodeId
    try {
      group = await bindUdp(mc.port, mc.group, true);
      group.addMembership(mc.group, mc.iface);
    } catch (err) {
      group?.close();
      socket.close();
      throw new Error(`election: cannot join multicast group ${mc.group}:${mc.port} on ${mc.iface}: ${(err as Error).message}`);
    }
    group.on('error', (err) => log.warn({ event: 'ha.socket_error', err: err.message, multicast: true }, 'election multicast socket error'));
  }

  const drop = (reason: string, from: string) => {
    counters.dropped[reason] = (counters.dropped[reason] ?? 0) + 1;
    log.debug({ event: 'ha.advert_dropped', reason, from }, 'advert dropped');
  };

  const send = (priority: number) => {
    stamp = nextStamp(stamp, now());
    const buf = encodeAdvert(
      { vrid: cfg.vrid, priority, intervalCs: params.advertIntervalMs / 10, preempt: cfg.preempt, configHash: hash, stamp, nodeId: cfg.nodeId },
      cfg.key,
    );
    const targets = cfg.peers.map((p) => ({ host: p.host, port: p.port }));
    if (mc) targets.push({ host: mc.group, port: mc.port });
    for (const p of targets) {
      counters.sent++;
      const sent = new Promise<void>((resolve) => socket.send(buf, p.port, p.host, () => resolve()));
      inFlight.add(sent);
      void sent.then(() => inFlight.delete(sent));
    }
  };

  const runHook = (to: VrrpState, from: VrrpState, reason: string) => {
    const own = to === 'master' ? hooks.onMaster : from === 'master' ? hooks.onBackup : undefined;
    const info: TransitionInfo = { from, to, reason, priority: params.priority };
    hookChain = hookChain
      .then(async () => {
        await own?.();
        await hooks.onTransition?.(info);
      })
      .catch((err: unknown) => log.error({ event: 'ha.hook_failed', to, err: String(err) }, 'election hook failed'));
  };

  const trackersChanged = () => {
    const eff = effectivePriority(cfg.priority, [...trackers.values()]);
    const failed = [...trackers].filter(([, t]) => !t.ok).map(([n]) => n);
    const changed = eff.priority !== params.priority;
    params = { ...params, priority: eff.priority };
    if (changed) log.warn({ event: 'ha.priority_changed', priority: cfg.priority, effectivePriority: eff.priority, failed }, `effective priority now ${eff.priority}`);
    if (eff.fault) return apply(enterFault(election, params, now(), `tracked check failed: ${failed.join(', ')}`));
    if (election.state === 'fault') return apply(leaveFault(election, params, now(), 'tracked checks recovered'));
    if (changed) apply(priorityChanged(election, params, now()));
  };

  const apply = (step: ElectionStep) => {
    election = step.election;
    for (const a of step.actions) {
      if (a.type === 'send') send(a.priority);
      else if (a.type === 'transition') {
        counters.transitions++;
        lastTransition = { from: a.from, to: a.to, reason: a.reason, at: now() };
        log.info({ event: 'ha.transition', from: a.from, to: a.to, reason: a.reason, priority: cfg.priority, effectivePriority: params.priority, master: election.master }, `election: ${a.from} → ${a.to}`);
        runHook(a.to, a.from, a.reason);
      } else log.debug({ event: 'ha.advert_discarded', reason: a.reason }, 'advert discarded');
    }
    reschedule();
  };

  const reschedule = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const at = nextDeadline(election);
    if (stopped || at === null) return;
    timer = setTimeout(() => apply(fireTimers(election, params, now())), Math.max(0, at - now()));
  };

  const onMessage = (viaGroup: boolean) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    if (stopped) return;
    if (msg.length > MAX_ADVERT_BYTES) return drop('length', rinfo.address);
    // Unicast: only configured peers. The group has no such list: the HMAC is the check.
    if (!viaGroup && !peers.has(`${rinfo.address}:${rinfo.port}`)) return drop('not-a-peer', rinfo.address);
    const d = decodeAdvert(msg, cfg.key);
    if (!d.ok) return drop(d.reason, rinfo.address);
    const a = d.advert;
    if (a.vrid !== cfg.vrid) return drop('vrid', rinfo.address);
    if (a.nodeId === cfg.nodeId) return drop('own', rinfo.address);
    const r = checkReplay(seen, a.nodeId, a.stamp, now(), cfg.replayWindowMs);
    if (!r.ok) return drop(r.reason, rinfo.address);
    seen = r.seen;
    counters.received++;
    if (a.configHash !== hash) {
      counters.configMismatch++;
      log.warn({ event: 'ha.config_mismatch', from: rinfo.address }, 'peer has different election timers');
    }
    apply(receive(election, params, { priority: a.priority, intervalMs: a.intervalCs * 10, from: rinfo.address }, now()));
  };
  socket.on('message', onMessage(false));
  group?.on('message', onMessage(true));

  apply(startup(params, now()));

  return {
    status: () => ({
      nodeId: cfg.nodeId, state: election.state, priority: cfg.priority, effectivePriority: params.priority,
      trackers: Object.fromEntries([...trackers].map(([n, t]) => [n, t.ok])),
      master: election.master, masterPriority: election.masterPriority, lastTransition, counters: structuredClone(counters),
    }),
    setTracker(name, ok) {
      const t = trackers.get(name);
      if (stopped || !t || t.ok === ok) return;
      trackers.set(name, { ...t, ok });
      trackersChanged();
    },
    async stop(opts = {}) {
      if (stopped) return;
      if (!opts.abrupt) apply(shutdown(election, params, now()));
      else {
        const was = election.state;
        election = { ...initialElection };
        if (was === 'master') runHook('init', 'master', 'stopped abruptly');
      }
      stopped = true;
      if (timer) clearTimeout(timer);
      // Let the resign advert leave before the socket closes.
      await Promise.all(inFlight);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      if (group) await new Promise<void>((resolve) => group.close(() => resolve()));
      await hookChain;
    },
  };
}

/** IPv6 addresses in their canonical text (as rinfo.address gives them): 0:0:0:0:0:0:0:1 → ::1. */
export function canonicalHost(host: string): string {
  return net.isIPv6(host) ? new net.SocketAddress({ address: host, family: 'ipv6' }).address : host;
}

/** An IPv6 bind address gets a udp6 socket (unicast peers over IPv6); anything else udp4. */
function bindUdp(port: number, host: string, reuseAddr: boolean): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr, ipv6Only: net.isIPv6(host) });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, host, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}
