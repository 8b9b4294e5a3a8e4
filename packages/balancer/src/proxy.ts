import net from 'node:net';
import type { BalancerConfig } from './config.ts';
import type { Log } from './log.ts';
import { fail, pick, release, succeed, type Pool } from './pool.ts';
import { proxyV1 } from './proxy-header.ts';
import { createIdleSweeper } from './idle-sweeper.ts';
import { splice } from './splice.ts';
import { connectUpstream } from './upstream-connect.ts';

/** The only reply a client can see from the balancer itself (RFC 3463 4.3.2: system not accepting messages). */
export const ALL_DOWN_REPLY = '421 4.3.2 Service not available, no scanner reachable; try again later\r\n';

/** The pool lives in one place; the proxy and the health checks replace it with pure updates. */
export interface PoolBox {
  pool: Pool;
}

export interface ProxyCounters {
  accepted: number;
  relayed: number;
  retries: number;
  rejected: number;
  failures: Record<string, number>;
}

export interface Proxy {
  /** Open the listener on the virtual address (on becoming master). */
  listen(): Promise<net.AddressInfo>;
  /** Stop accepting (on leaving master); relayed sessions finish. */
  unlisten(): Promise<void>;
  listening(): boolean;
  counters(): ProxyCounters;
  /** Stop accepting and cut every session. */
  close(): Promise<void>;
}

export function createProxy(config: BalancerConfig, box: PoolBox, log: Log, now: () => number): Proxy {
  const sockets = new Set<net.Socket>();
  const counters: ProxyCounters = { accepted: 0, relayed: 0, retries: 0, rejected: 0, failures: {} };
  let server: net.Server | null = null;
  const idle = createIdleSweeper(config.idleTimeoutMs);

  async function handle(client: net.Socket): Promise<void> {
    const tried = new Set<string>();
    const preface = config.proxyProtocol === 'v1'
      ? proxyV1(client.remoteAddress ?? '', client.localAddress ?? '', client.remotePort ?? 0, client.localPort ?? 0)
      : null;
    for (;;) {
      const chosen = pick(box.pool, tried, now());
      box.pool = chosen.pool;
      const peer = chosen.peer;
      if (peer === null) {
        counters.rejected++;
        log.warn({ event: 'lb.all_down', client: client.remoteAddress, tried: [...tried] }, 'no usable upstream; 421 to the client');
        client.setTimeout(5000, () => client.destroy());
        client.end(ALL_DOWN_REPLY);
        return;
      }
      tried.add(peer.name);
      const r = await connectUpstream({
        host: peer.host, port: peer.port, preface,
        connectTimeoutMs: config.connectTimeoutMs, greetingTimeoutMs: config.greetingTimeoutMs, localAddress: config.sourceAddress,
      });
      if (!r.ok) {
        box.pool = release(fail(box.pool, peer.name, now()), peer.name);
        counters.retries++;
        counters.failures[r.reason] = (counters.failures[r.reason] ?? 0) + 1;
        log.warn({ event: 'lb.upstream_failed', upstream: peer.name, reason: r.reason, detail: r.detail }, 'upstream failed; trying the next');
        continue;
      }
      box.pool = succeed(box.pool, peer.name);
      counters.relayed++;
      sockets.add(r.socket);
      splice(client, r.socket, r.greeting, idle, () => {
        sockets.delete(r.socket);
        box.pool = release(box.pool, peer.name);
      });
      return;
    }
  }

  function onConnection(client: net.Socket): void {
    counters.accepted++;
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', (err) => log.debug({ event: 'lb.client_error', err: err.message }, 'client socket error'));
    handle(client).catch((err: unknown) => {
      log.error({ event: 'lb.bug', err: String(err) }, 'connection handler failed');
      client.destroy();
    });
  }

  return {
    listen() {
      if (server) return Promise.resolve(server.address() as net.AddressInfo);
      const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection);
      return new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host: config.listen.host, port: config.listen.port }, () => {
          s.removeListener('error', reject);
          s.on('error', (err) => log.error({ event: 'lb.listener_error', err: err.message }, 'listener error'));
          server = s;
          const addr = s.address() as net.AddressInfo;
          log.info({ event: 'lb.listening', host: addr.address, port: addr.port }, 'accepting on the virtual address');
          resolve(addr);
        });
      });
    },
    unlisten() {
      const s = server;
      server = null;
      if (!s) return Promise.resolve();
      log.info({ event: 'lb.unlistening' }, 'no longer accepting on the virtual address');
      return new Promise((resolve) => s.close(() => resolve()));
    },
    listening: () => server !== null,
    counters: () => structuredClone(counters),
    async close() {
      const done = this.unlisten();
      for (const s of sockets) s.destroy();
      idle.close();
      await done;
    },
  };
}
