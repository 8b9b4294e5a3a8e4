import dgram from 'node:dgram';
import { checkReplay, configHash, decodeAdvert, encodeAdvert, MAX_ADVERT_BYTES, nextStamp } from './advert.ts';
import type { ElectionConfig } from './config.ts';
import {
  fireTimers, initialElection, nextDeadline, receive, shutdown, startup,
  type Election, type ElectionParams, type ElectionStep, type VrrpState,
} from './election.ts';
import type { Log } from './log.ts';
import { toCentiseconds } from './timers.ts';

/**
 * Drives the pure election over UDP unicast: one socket bound to this node's address, adverts
 * to every configured peer. Hooks run in order, one at a time, so a quick master → backup →
 * master never interleaves opening and closing the listener.
 */
export interface ElectionHooks {
  onMaster(): Promise<void> | void;
  onBackup(): Promise<void> | void;
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
  readonly priority: number;
  readonly master: string | null;
  readonly masterPriority: number | null;
  readonly lastTransition: { readonly from: VrrpState; readonly to: VrrpState; readonly reason: string; readonly at: number } | null;
  readonly counters: ElectionCounters;
}

export interface ElectionNode {
  status(): ElectionStatus;
  /** Graceful: a master resigns with a priority-0 advert. `abrupt` sends nothing, as a crash would. */
  stop(opts?: { abrupt?: boolean }): Promise<void>;
}

export async function startElection(cfg: ElectionConfig, hooks: ElectionHooks, log: Log, now: () => number = Date.now): Promise<ElectionNode> {
  const params: ElectionParams = {
    priority: cfg.priority, preempt: cfg.preempt, preemptDelayMs: cfg.preemptDelayMs,
    advertIntervalMs: toCentiseconds(cfg.advertIntervalMs) * 10, self: cfg.bind.host,
  };
  const hash = configHash(cfg.vrid, params.advertIntervalMs);
  const peers = new Set(cfg.peers.map((p) => `${p.host}:${p.port}`));
  const inFlight = new Set<Promise<void>>();
  const counters: ElectionCounters = { sent: 0, received: 0, dropped: {}, transitions: 0, configMismatch: 0 };
  let election: Election = initialElection;
  let seen: ReadonlyMap<string, number> = new Map();
  let stamp = 0;
  let lastTransition: ElectionStatus['lastTransition'] = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let hookChain: Promise<void> = Promise.resolve();

  const socket = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(cfg.bind.port, cfg.bind.host, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => log.warn({ event: 'ha.socket_error', err: err.message }, 'election socket error'));

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
    for (const p of cfg.peers) {
      counters.sent++;
      const sent = new Promise<void>((resolve) => socket.send(buf, p.port, p.host, () => resolve()));
      inFlight.add(sent);
      void sent.then(() => inFlight.delete(sent));
    }
  };

  const runHook = (to: VrrpState, from: VrrpState) => {
    const hook = to === 'master' ? hooks.onMaster : from === 'master' ? hooks.onBackup : null;
    if (!hook) return;
    hookChain = hookChain.then(() => hook()).catch((err: unknown) => log.error({ event: 'ha.hook_failed', to, err: String(err) }, 'election hook failed'));
  };

  const apply = (step: ElectionStep) => {
    election = step.election;
    for (const a of step.actions) {
      if (a.type === 'send') send(a.priority);
      else if (a.type === 'transition') {
        counters.transitions++;
        lastTransition = { from: a.from, to: a.to, reason: a.reason, at: now() };
        log.info({ event: 'ha.transition', from: a.from, to: a.to, reason: a.reason, priority: cfg.priority, master: election.master }, `election: ${a.from} → ${a.to}`);
        runHook(a.to, a.from);
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

  socket.on('message', (msg, rinfo) => {
    if (stopped) return;
    if (msg.length > MAX_ADVERT_BYTES) return drop('length', rinfo.address);
    if (!peers.has(`${rinfo.address}:${rinfo.port}`)) return drop('not-a-peer', rinfo.address);
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
  });

  apply(startup(params, now()));

  return {
    status: () => ({
      nodeId: cfg.nodeId, state: election.state, priority: cfg.priority,
      master: election.master, masterPriority: election.masterPriority, lastTransition, counters: structuredClone(counters),
    }),
    async stop(opts = {}) {
      if (stopped) return;
      if (!opts.abrupt) apply(shutdown(election, params, now()));
      else {
        const was = election.state;
        election = { ...initialElection };
        if (was === 'master') runHook('init', 'master');
      }
      stopped = true;
      if (timer) clearTimeout(timer);
      // Let the resign advert leave before the socket closes.
      await Promise.all(inFlight);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      await hookChain;
    },
  };
}
