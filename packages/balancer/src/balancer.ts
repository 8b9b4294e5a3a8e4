import type { AddressInfo } from 'node:net';
import type { BalancerConfig } from './config.ts';
import { startElection, type ElectionNode, type ElectionStatus } from './election-node.ts';
import { startHealthChecks } from './health-checker.ts';
import type { Log } from './log.ts';
import { createPool, updateUpstream, usable, type UpstreamChange } from './pool.ts';
import { createProxy, type PoolBox, type ProxyCounters } from './proxy.ts';

/**
 * The composition root: the pool, the proxy on the virtual address, the active checks and
 * (when configured) the election that decides whether this node holds the address.
 * Without an `election` section the balancer always holds it.
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
  readonly listen: { readonly host: string; readonly port: number } | null;
  readonly election: ElectionStatus | null;
  readonly upstreams: readonly UpstreamStatus[];
  readonly counters: ProxyCounters;
}

export interface BalancerHandle {
  status(): BalancerStatus;
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

export async function startBalancer(config: BalancerConfig, deps: BalancerDeps): Promise<BalancerHandle> {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const box: PoolBox = { pool: createPool(config.upstreams) };
  const proxy = createProxy(config, box, log, now);
  const checks = startHealthChecks(config, box, log);
  let address: AddressInfo | null = null;
  let master = false;
  let closing = false;

  // The old holder may still own the address for a moment (in tests: the same loopback port).
  const openListener = async (): Promise<void> => {
    while (master && !closing) {
      try {
        address = await proxy.listen();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        await new Promise((r) => setTimeout(r, LISTEN_RETRY_MS));
      }
    }
  };

  let election: ElectionNode | null = null;
  if (config.election) {
    election = await startElection(
      config.election,
      {
        onMaster: () => {
          master = true;
          return openListener();
        },
        onBackup: async () => {
          master = false;
          address = null;
          await proxy.unlisten();
        },
      },
      log,
      now,
    );
  } else {
    master = true;
    await openListener();
  }

  return {
    status() {
      const t = now();
      const health = checks.states();
      return {
        holder: proxy.listening(),
        listen: address && proxy.listening() ? { host: address.address, port: address.port } : null,
        election: election?.status() ?? null,
        upstreams: box.pool.map((p) => ({
          name: p.name, host: p.host, port: p.port, weight: p.weight, effectiveWeight: p.effectiveWeight,
          backup: p.backup, down: p.down, healthy: p.healthy, usable: usable(box.pool, p, t), fails: p.fails,
          activeConns: p.conns, lastCheckFailure: health.get(p.name)?.lastReason ?? null,
        })),
        counters: proxy.counters(),
      };
    },
    updateUpstream(name, change) {
      box.pool = updateUpstream(box.pool, name, change);
    },
    async close(opts = {}) {
      closing = true;
      checks.close();
      await election?.stop(opts);
      master = false;
      await proxy.close();
    },
  };
}
