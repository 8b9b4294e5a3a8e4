import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Binds 127.0.0.1:`port` (0: any free port), closes it again and resolves the port bound, or null when the bind failed. */
function bindAndRelease(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(addr && typeof addr !== 'string' ? addr.port : null));
    });
  });
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close): for a server that must come back on the same port. */
export async function freePort(): Promise<number> {
  const port = await bindAndRelease(0);
  if (port === null) throw new Error('no free port on 127.0.0.1');
  return port;
}

/**
 * A free TCP port on 127.0.0.1 below Linux's ephemeral range (32768–60999 by default), for a
 * port that must stay unused for a while after it is closed: no server binding port 0 can be
 * given it, and no outgoing connection can take it as its source port (a connect to a closed
 * ephemeral port on loopback can, rarely, connect to itself).
 */
export async function freePortOutsideEphemeralRange(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = await bindAndRelease(20_000 + Math.floor(Math.random() * 12_000));
    if (port !== null) return port;
  }
  throw new Error('no free port in 20000–31999 after 200 tries');
}

/** Binds UDP 0.0.0.0:`port` (every loopback address), closes it again and resolves whether the bind worked. */
function bindUdpAndRelease(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.unref();
    socket.once('error', () => resolve(false));
    socket.bind(port, '0.0.0.0', () => socket.close(() => resolve(true)));
  });
}

/**
 * Distinct free UDP ports below Linux's ephemeral range, for elections' UDP addresses that a process
 * binds seconds later. A port from bind(0) is ephemeral: meanwhile any UDP client socket (a DNS
 * lookup by an engine, a resolver) can be given it, and the election's bind then fails with
 * EADDRINUSE.
 */
export async function freeUdpPortsOutsideEphemeralRange(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; tries < 200 * count && ports.size < count; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.has(port) && (await bindUdpAndRelease(port))) ports.add(port);
  }
  if (ports.size < count) throw new Error(`no ${count} free UDP ports in 20000–31999 after ${200 * count} tries`);
  return [...ports];
}
