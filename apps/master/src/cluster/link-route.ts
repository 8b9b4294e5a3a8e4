import type { FastifyPluginAsync } from 'fastify';
import type { ClusterHub } from './hub.ts';

/**
 * `/cluster`: the WebSocket scanners dial. The upgrade goes through fastify (so it is logged
 * and rate-limited like any request); users' sessions do not apply here: a node proves itself
 * inside the link with its own credential, before anything else is accepted.
 */
export function clusterLinkRoute(hub: ClusterHub): FastifyPluginAsync {
  return async (app) => {
    app.get('/cluster', { websocket: true, config: { public: true }, schema: { hide: true } }, (socket, request) => {
      hub.accept(socket, request.ip);
    });
  };
}
