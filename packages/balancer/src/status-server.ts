import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Log } from './log.ts';

/**
 * The balancer's read-only HTTP endpoint: `GET /status` (JSON) and `GET /metrics`
 * (Prometheus text). With a `token`, every request needs `Authorization: Bearer <token>`.
 * Errors are JSON `{ error }` with 401 / 404 / 405.
 */
export interface StatusServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export interface StatusServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string | undefined;
}

function authorized(header: string | undefined, token: string): boolean {
  const want = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

export async function startStatusServer(opts: StatusServerOptions, status: () => unknown, registry: Registry, log: Log): Promise<StatusServer> {
  const send = (res: http.ServerResponse, code: number, type: string, body: string) => {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: http.ServerResponse, code: number, body: unknown) => send(res, code, 'application/json; charset=utf-8', JSON.stringify(body));

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (opts.token !== undefined && !authorized(req.headers.authorization, opts.token)) return json(res, 401, { error: 'missing or wrong bearer token' });
    if (path !== '/status' && path !== '/metrics') return json(res, 404, { error: `no route ${path}; try /status or /metrics` });
    if (req.method !== 'GET') return json(res, 405, { error: `${req.method} not allowed; use GET` });
    if (path === '/status') return json(res, 200, status());
    registry.metrics().then(
      (text) => send(res, 200, registry.contentType, text),
      (err: unknown) => json(res, 500, { error: String(err) }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info({ event: 'lb.status_listening', host: address.address, port: address.port }, 'balancer status endpoint up');
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
