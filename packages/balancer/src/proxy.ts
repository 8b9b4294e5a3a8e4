import net from 'node:net';
import type { BalancerConfig } from './config.ts';
import type { Log } from './log.ts';
import { fail, pick, release, succeed, type Pool } from './pool.ts';
import { proxyV1 } from './proxy-header.ts';
import { createIdleSweeper } from './idle-sweeper.ts';
import { splice } from './splice.ts';
import { giveBuffer, handleRelayApi, relayHandles, relayOnHandles, type HandleRelayApi, type TcpHandle } from './handle-relay.ts';
import { connectUpstreamHandle } from './handle-connect.ts';
import { nativeRelay, type NativeRelay } from './native-relay.ts';
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
  /** Of the relayed: how many on the libuv handles (the rest on streams). */
  relayedOnHandles: number;
  /** Of those on handles: how many had their bytes moved by the native relay. */
  relayedNative: number;
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
  const counters: ProxyCounters = { accepted: 0, relayed: 0, relayedOnHandles: 0, relayedNative: 0, retries: 0, rejected: 0, failures: {} };
  let server: net.Server | null = null;
  const idle = createIdleSweeper(config.idleTimeoutMs);
  const api = relayApi(config, log);
  // Clients accepted on bare handles and still in the greeting gate (closed by close()).
  const gating = new Set<{ handle: TcpHandle; closed: boolean }>();
  const onHandles = api !== null && acceptableOnHandles(config);
  const native = onHandles && config.relay === 'auto' ? nativeRelay() : null;
  const nativeApi: NativeRelay | null = native?.api ?? null;
  // Sessions of this proxy in the native relay (close() cuts them).
  const nativeSessions = new Set<number>();
  log.info({
    event: 'lb.relay',
    path: nativeApi ? 'native' : onHandles ? 'handles' : api ? 'streams, then handles' : 'streams',
    ...(native && !native.api ? { native: native.reason } : {}),
  }, 'relay path chosen');
  const connectOptions = (peer: { host: string; port: number }, preface: string | null) => ({
    host: peer.host, port: peer.port, preface,
    connectTimeoutMs: config.connectTimeoutMs, greetingTimeoutMs: config.greetingTimeoutMs, localAddress: config.sourceAddress,
  });

  /** The whole connection on bare libuv handles: no net.Socket at all (see handle-relay.ts). */
  function onHandleConnection(a: HandleRelayApi, err: number, ch: TcpHandle | undefined): void {
    if (err !== 0 || !ch) {
      log.debug({ event: 'lb.accept_error', err }, 'accept failed');
      return;
    }
    counters.accepted++;
    ch.setNoDelay(true);
    let preface: string | null = null;
    let remote = '';
    if (config.proxyProtocol === 'v1') {
      const peer: { address?: string; port?: number } = {};
      const local: { address?: string; port?: number } = {};
      ch.getpeername(peer);
      ch.getsockname(local);
      remote = peer.address ?? '';
      preface = proxyV1(remote, local.address ?? '', peer.port ?? 0, local.port ?? 0);
    }
    const entry = { handle: ch, closed: false };
    gating.add(entry);
    // Most clients get the first upstream: the set of tried ones is made on the first failure.
    let tried: Set<string> | null = null;
    const next = (): void => {
      const chosen = pick(box.pool, tried ?? NONE_TRIED, now());
      box.pool = chosen.pool;
      const peer = chosen.peer;
      if (peer === null) {
        gating.delete(entry);
        counters.rejected++;
        if (!remote) {
          const p: { address?: string } = {};
          ch.getpeername(p);
          remote = p.address ?? '';
        }
        log.warn({ event: 'lb.all_down', client: remote, tried: [...(tried ?? NONE_TRIED)] }, 'no usable upstream; 421 to the client');
        rejectOnHandle(a, ch);
        return;
      }
      connectUpstreamHandle(a, connectOptions(peer, preface), (r) => {
        if (!r.ok) {
          (tried ??= new Set()).add(peer.name);
          box.pool = release(fail(box.pool, peer.name, now()), peer.name);
          counters.retries++;
          counters.failures[r.reason] = (counters.failures[r.reason] ?? 0) + 1;
          log.warn({ event: 'lb.upstream_failed', upstream: peer.name, reason: r.reason, detail: r.detail }, 'upstream failed; trying the next');
          if (entry.closed) return;
          next();
          return;
        }
        gating.delete(entry);
        if (entry.closed) {
          const rb = r.buffer;
          r.handle.close(() => giveBuffer(rb));
          box.pool = release(box.pool, peer.name);
          return;
        }
        box.pool = succeed(box.pool, peer.name);
        counters.relayed++;
        counters.relayedOnHandles++;
        if (nativeApi) {
          const id = nativeApi.relay(ch.fd, r.handle.fd, r.greeting, config.idleTimeoutMs, () => {
            if (id !== null) nativeSessions.delete(id);
            box.pool = release(box.pool, peer.name);
          });
          if (id !== null) {
            // The relay thread has its own descriptors and has copied the greeting.
            nativeSessions.add(id);
            counters.relayedNative++;
            ch.close();
            r.handle.close();
            giveBuffer(r.buffer);
            return;
          }
        }
        relayHandles(a, ch, r.handle, r.greeting, idle, () => {
          box.pool = release(box.pool, peer.name);
        }, r.buffer);
      });
    };
    next();
  }

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
      const r = await connectUpstream(connectOptions(peer, preface));
      if (!r.ok) {
        box.pool = release(fail(box.pool, peer.name, now()), peer.name);
        counters.retries++;
        counters.failures[r.reason] = (counters.failures[r.reason] ?? 0) + 1;
        log.warn({ event: 'lb.upstream_failed', upstream: peer.name, reason: r.reason, detail: r.detail }, 'upstream failed; trying the next');
        continue;
      }
      box.pool = succeed(box.pool, peer.name);
      counters.relayed++;
      if (api) {
        const session = relayOnHandles(api, client, r.socket, r.greeting, idle, () => {
          box.pool = release(box.pool, peer.name);
        });
        if (session) {
          counters.relayedOnHandles++;
          return;
        }
      }
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
          // Take the accepts over from net.Server (it keeps listen/close/address): each new
          // connection arrives as a bare handle. Checked here, so a different shape keeps streams.
          const lh = (s as unknown as { _handle?: { onconnection?: unknown } | null })._handle;
          if (onHandles && api && lh && typeof lh.onconnection === 'function') {
            lh.onconnection = (err: number, ch?: TcpHandle) => onHandleConnection(api, err, ch);
          } else if (onHandles) {
            log.warn({ event: 'lb.relay_fallback', reason: 'the listener has no onconnection' }, 'accepting on net.Socket streams');
          }
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
      idle.killAll(); // every relayed session, on handles or streams
      for (const id of nativeSessions) nativeApi?.kill(id);
      for (const g of gating) {
        g.closed = true;
        g.handle.close();
      }
      gating.clear();
      idle.close();
      await done;
      // The native relay reports each cut session through the event loop; wait for them (bounded).
      for (const until = Date.now() + 2000; nativeSessions.size > 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
    },
  };
}

/** The handle relay's API when `relay: auto` finds it; null means streams (a fallback is logged once). */
function relayApi(config: BalancerConfig, log: Log): HandleRelayApi | null {
  if (config.relay === 'stream') return null;
  const found = handleRelayApi();
  if (found.api) return found.api;
  log.warn({ event: 'lb.relay_fallback', reason: found.reason }, 'relaying on net.Socket streams: the libuv handle API is not in the expected shape');
  return null;
}

const NONE_TRIED: ReadonlySet<string> = new Set();

/** Bare-handle connects need IP addresses (no DNS on that path): every upstream and the source address. */
function acceptableOnHandles(config: BalancerConfig): boolean {
  return config.upstreams.every((u) => net.isIP(u.host) !== 0) && (config.sourceAddress === undefined || net.isIP(config.sourceAddress) !== 0);
}

/**
 * All upstreams unusable: the 421 reply, then our FIN. The client's bytes are read and dropped
 * until it closes, or for 5 s at most (as the stream path's end() + 5 s destroy).
 */
function rejectOnHandle(api: HandleRelayApi, ch: TcpHandle): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    ch.close();
  };
  const timer = setTimeout(close, 5000);
  const data = Buffer.from(ALL_DOWN_REPLY, 'latin1');
  const w = new api.WriteWrap();
  w.handle = ch;
  w.oncomplete = () => {};
  w.async = false;
  w.buffer = data;
  const s = new api.ShutdownWrap();
  s.handle = ch;
  s.oncomplete = () => {};
  ch.onread = () => {
    if (api.state[api.kReadBytesOrError]! < 0) close();
  };
  if (ch.writeBuffer(w, data) !== 0 || ch.shutdown(s) !== 0 || ch.readStart() !== 0) close();
}
