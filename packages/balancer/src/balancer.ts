import type { AddressInfo } from 'node:net';
import { isCommandTrack, type BalancerConfig } from './config.ts';
import { startElection, type ElectionNode, type ElectionStatus, type TransitionInfo } from './election-node.ts';
import { startCommandTrackers, type CommandTrackers } from './command-tracker.ts';
import { startHealthChecks } from './health-checker.ts';
import { runHookCommand } from './hook-command.ts';
import type { Log } from './log.ts';
import { createBalancerMetrics, type BalancerMetrics } from './metrics.ts';
import { changeForMode, upstreamsForMode } from './mode.ts';
import { createPool, updateUpstream, usable, type UpstreamChange } from './pool.ts';
import { createProxy, type PoolBox, type ProxyCounters } from './proxy.ts';
import { startStatusServer, type StatusServer } from './status-server.ts';

/**
 * The composition root: the pool, the proxy on the virtual address, the active checks, the
 * status/metrics endpoint and (when configured) the election that decides whether this node
 * holds the address, with its trackers and hook commands. Without an `election` section the
 * balancer always holds the address.
 */
export interface UpstreamStatus {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly effectiveWeight: number;
  readonly backup: boolean;
  readonly down: boolean;
  /** Result of the active check (true when checks are off). */
  readonly healthy: boolean;
  /** Whether a new connection could go there now (down, health, fails, maxConns). */
  readonly usable: boolean;
  readonly fails: number;
  readonly activeConns: number;
  readonly lastCheckFailure: string | null;
}

export interface BalancerStatus {
  /** True while this node accepts on the virtual address. */
  readonly holder: boolean;
  readonly mode: BalancerConfig['mode'];
  readonly listen: { readonly host: string; readonly port: number } | null;
  readonly election: ElectionStatus | null;
  readonly upstreams: readonly UpstreamStatus[];
  readonly counters: ProxyCounters;
}

export interface BalancerHandle {
  status(): BalancerStatus;
  /** The status endpoint's address, when `status` is configured. */
  statusAddress(): AddressInfo | null;
  /** This balancer's Prometheus registry (also served on the status endpoint). */
  readonly metrics: BalancerMetrics;
  /** Maintenance, weight and backup from the cluster settings; an unknown name is ignored. */
  updateUpstream(name: string, change: UpstreamChange): void;
  /** Graceful by default (a master resigns with a priority-0 advert); `abrupt` mimics a crash. */
  close(opts?: { abrupt?: boolean }): Promise<void>;
}

export interface BalancerDeps {
  readonly log: Log;
  readonly now?: () => number;
}

const LISTEN_RETRY_MS = 50;
/** Listen errors that a moment can cure: the old holder still has the port, or the master hook is still adding the address. */
const RETRY_LISTEN = new Set(['EADDRINUSE', 'EADDRNOTAVAIL']);

export async function startBalancer(config: BalancerConfig, deps: BalancerDeps): Promise<BalancerHandle> {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const box: PoolBox = { pool: createPool(upstreamsForMode(config)) };
  const proxy = createProxy(config, box, log, now);
  let election: ElectionNode | null = null;
  let address: AddressInfo | null = null;
  let master = false;
  let closing = false;
  // Read on demand (status endpoint, metrics scrape, heartbeat), never during start-up.
  const status = (): BalancerStatus => {
    const t = now();
    const health = checks.states();
    return {
      holder: proxy.listening(),
      mode: config.mode,
      listen: address && proxy.listening() ? { host: address.address, port: address.port } : null,
      election: election?.status() ?? null,
      upstreams: box.pool.map((p) => ({
        name: p.name, host: p.host, port: p.port, weight: p.weight, effectiveWeight: p.effectiveWeight,
        backup: p.backup, down: p.down, healthy: p.healthy, usable: usable(box.pool, p, t), fails: p.fails,
        activeConns: p.conns, lastCheckFailure: health.get(p.name)?.lastReason ?? null,
      })),
      counters: proxy.counters(),
    };
  };
  const metrics = createBalancerMetrics(status);
  const checks = startHealthChecks(config, box, log, (name, up) => {
    metrics.upstreamChange(name, up);
    election?.setTracker(name, up);
  });
  // The old holder may still own the address for a moment (in tests: the same loopback port).
  const openListener = async (): Promise<void> => {
    let warned = false;
    while (master && !closing) {
      try {
        address = await proxy.listen();
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!RETRY_LISTEN.has(code)) throw err;
        if (!warned) log.warn({ event: 'lb.listen_retry', code, host: config.listen.host, port: config.listen.port }, 'virtual address not available yet; retrying');
        warned = true;
        await new Promise((r) => setTimeout(r, LISTEN_RETRY_MS));
      }
    }
  };

  const hookCommand = async (t: TransitionInfo): Promise<void> => {
    const e = config.election!;
    const command = { master: e.hooks.master, backup: e.hooks.backup, fault: e.hooks.fault, init: e.hooks.stop ?? e.hooks.backup }[t.to];
    if (!command) return;
    await runHookCommand(command, {
      state: t.to, previousState: t.from, reason: t.reason, vip: config.listen.host, vipPort: config.listen.port,
      priority: t.priority, vrid: e.vrid, nodeId: e.nodeId,
    }, e.hooks.timeoutMs, log);
  };

  if (config.election) {
    // Master: hook first (it adds the address), then listen. Leaving: stop listening, then the hook (it removes the address).
    election = await startElection(config.election, {
      onTransition: async (t) => {
        metrics.transition(t.from, t.to);
        if (t.to === 'master') {
          await hookCommand(t);
          master = true;
          await openListener();
        } else {
          if (t.from === 'master') {
            master = false;
            address = null;
            await proxy.unlisten();
          }
          await hookCommand(t);
        }
      },
    }, log, now);
  } else {
    master = true;
    await openListener();
  }
  const commandTracks = (config.election?.track ?? []).filter(isCommandTrack);
  const trackers: CommandTrackers | null = commandTracks.length > 0 ? startCommandTrackers(commandTracks, log, (name, ok) => election?.setTracker(name, ok)) : null;

  let statusServer: StatusServer | null = null;
  if (config.status) {
    try {
      statusServer = await startStatusServer(config.status, status, metrics.registry, log);
    } catch (err) {
      checks.close();
      trackers?.close();
      await election?.stop({ abrupt: true });
      await proxy.close();
      throw err;
    }
  }

  const sa = statusServer?.address;
  log.info({
    event: 'lb.started', mode: config.mode, listen: `${config.listen.host}:${config.listen.port}`,
    status: sa ? `${sa.address}:${sa.port}` : null, election: config.election ? { nodeId: config.election.nodeId, priority: config.election.priority } : null,
  }, 'balancer started');
  return {
    status,
    statusAddress: () => statusServer?.address ?? null,
    metrics,
    updateUpstream(name, change) {
      box.pool = updateUpstream(box.pool, name, changeForMode(config, name, change));
    },
    async close(opts = {}) {
      closing = true;
      checks.close();
      trackers?.close();
      await election?.stop(opts);
      master = false;
      await proxy.close();
      await statusServer?.close();
    },
  };
}
