import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { MasterConfig } from '../config.ts';
import type { MasterDatabase } from '../db/database.ts';
import type { ClusterHub } from './hub.ts';
import { createPeerForwarder } from './peer-forwarder.ts';
import { createPeerRegistry } from './peer-registry.ts';
import { peerRoute } from './peer-route.ts';

/** How often a master refreshes its registration; three missed refreshes and the others take it for gone. */
export const PEER_REFRESH_MS = 10_000;

export interface Peers {
  /** The /cluster/peer route, for buildApp's extra plugins (none with SQLite). */
  readonly routes: readonly FastifyPluginAsync[];
  /** Once the master listens: register it where the others find it, and keep the registration fresh. */
  start(port: number): Promise<void>;
  /** Unregister (the others stop forwarding here at once) and stop refreshing. */
  close(): Promise<void>;
}

/**
 * Several masters on one PostgreSQL (docs/cluster.md, "Several masters"): a request for a node
 * linked to another master is forwarded to it, and this master serves those forwarded to it.
 * With SQLite there is one master: nothing to set up.
 */
export async function setUpPeers(deps: { config: MasterConfig; database: MasterDatabase; hub: ClusterHub; log: Logger; now: () => number }): Promise<Peers> {
  const { config, database, hub, log, now } = deps;
  if (config.database === undefined) return { routes: [], start: async () => undefined, close: async () => undefined };
  const registry = createPeerRegistry(database.db);
  const secret = await registry.secret();
  const self = config.node.name;
  hub.forwardThrough(createPeerForwarder({ db: database.db, peers: registry, self, secret, now, refreshMs: PEER_REFRESH_MS, timeoutMs: config.cluster.requestTimeoutSeconds * 1000 }));
  const fingerprint = config.http.tls ? new X509Certificate(readFileSync(config.http.tls.cert)).fingerprint256 : '';
  let timer: NodeJS.Timeout | undefined;
  let registration = { name: self, url: '', fingerprint };
  const refresh = () => registry.register(registration, now()).catch((err: unknown) =>
    log.error({ event: 'PEER_REGISTER_FAILED', err }, 'could not refresh this master\'s registration; the other masters take it for gone after three missed refreshes'));
  return {
    routes: [peerRoute(hub, secret)],
    async start(port) {
      registration = { ...registration, url: config.http.peerUrl ?? reachableUrl(config.http.tls !== undefined, config.http.host, port) };
      await registry.register(registration, now());
      timer = setInterval(() => void refresh(), PEER_REFRESH_MS);
      timer.unref();
      log.info({ event: 'PEER_REGISTERED', url: registration.url }, 'registered where the other masters forward requests for the nodes linked here');
    },
    async close() {
      clearInterval(timer);
      await registry.unregister(self).catch((err: unknown) => log.error({ event: 'PEER_REGISTER_FAILED', err }, 'could not unregister this master; the others take it for gone once its registration is stale'));
    },
  };
}

/** The listen address as another machine reaches it: a wildcard (0.0.0.0, ::) becomes this machine's host name. */
export function reachableUrl(secure: boolean, host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host.includes(':') ? `[${host}]` : host;
  return `${secure ? 'https' : 'http'}://${name}:${port}`;
}
