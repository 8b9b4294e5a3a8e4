import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../http/api-error.ts';
import type { ClusterHub } from './hub.ts';

/**
 * `/cluster`: the WebSocket scanners dial. The upgrade goes through fastify (so it is logged
 * and rate-limited like any request); users' sessions do not apply here: a node proves itself
 * inside the link with its own credential, before anything else is accepted. A plain HTTP
 * request gets a 426 in the API's error shape (with `websocket: true` alone, @fastify/websocket
 * answers an empty 404: found by fuzzing, test/fuzz/api.test.ts).
 */
export function clusterLinkRoute(hub: ClusterHub): FastifyPluginAsync {
  return async (app) => {
    app.route({
      method: 'GET',
      url: '/cluster',
      config: { public: true },
      schema: { hide: true },
      wsHandler: (socket, request) => {
        hub.accept(socket, request.ip);
      },
      handler: async () => {
        throw new ApiError(426, 'MOAT_ERR_UPGRADE_REQUIRED', '/cluster only accepts a WebSocket upgrade (the scanners\' cluster link)', undefined, { upgrade: 'websocket', connection: 'Upgrade' });
      },
    });
  };
}
