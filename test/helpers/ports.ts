import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close): for a server that must come back on the same port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (!addr || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1 below Linux's ephemeral range (32768–60999 by default), for a
 * port that must stay unused for a while after it is closed: no server binding port 0 can be
 * given it, and no outgoing connection can take it as its source port (a connect to a closed
 * ephemeral port on loopback can, rarely, connect to itself).
 */
export async function freePortOutsideEphemeralRange(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 20000–31999 after 200 tries');
}
