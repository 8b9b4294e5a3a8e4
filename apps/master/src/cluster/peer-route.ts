import { createHash, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { ToScanner } from '@moat/protocol';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';
import { ApiError } from '../http/api-error.ts';
import { toErrorReply } from '../http/error-reply.ts';
import { PEER_BODY_LIMIT, PEER_FROM_HEADER, PEER_PATH, PEER_SECRET_HEADER, PeerRequestSchema, peerErrorBody, peerFrame, type PeerRequest, type ProtocolNeed } from './peer-wire.ts';

/** What the route asks of the hub: requests on this master's own links, never forwarded again. */
export interface PeerServing {
  requestHere<T>(nodeId: string, frame: (id: string) => ToScanner, need?: ProtocolNeed): Promise<T>;
  fetchStreamHere(nodeId: string, frame: (id: string) => ToScanner): Promise<Readable>;
}

/** Constant-time comparison of a presented secret with the shared one (hashed first: equal lengths, nothing learnt from timing). */
export function secretMatches(presented: string | undefined, secret: string): boolean {
  if (presented === undefined || secret === '') return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(secret));
}

/**
 * `POST /cluster/peer`: another master forwards a request for a node whose link this master
 * holds (docs/cluster.md, "Several masters"). Users' sessions and tokens do not apply here (the
 * route is `public` to the auth hook, like /cluster): the caller proves it is a master with the
 * secret the masters share through the database, checked before the body is read. The request
 * runs on this master's link only (`requestHere`), so a forwarded request is never forwarded
 * again. A node error answers with the node's own code, which the forwarding master throws again.
 */
export function peerRoute(hub: PeerServing, secret: string): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: PeerRequest }>(PEER_PATH, {
      config: { public: true },
      bodyLimit: PEER_BODY_LIMIT,
      schema: { hide: true, body: PeerRequestSchema },
      onRequest: async (request) => {
        const presented = request.headers[PEER_SECRET_HEADER];
        if (!secretMatches(typeof presented === 'string' ? presented : undefined, secret)) {
          throw new ApiError(401, 'MOAT_ERR_PEER_UNAUTHENTICATED', `${PEER_PATH} is for the other masters: send the masters' shared secret as ${PEER_SECRET_HEADER}`);
        }
      },
    }, async (request, reply) => {
      const { nodeId, need } = request.body;
      const frame = peerFrame(request.body.frame);
      if (!frame) throw new ApiError(400, 'MOAT_ERR_VALIDATION', 'frame is not a request for one node of the cluster link', [{ field: 'frame', message: `not a valid request frame (${String(request.body.frame.type).slice(0, 64)})` }]);
      request.log.debug({ event: 'PEER_REQUEST', from: String(request.headers[PEER_FROM_HEADER] ?? '').slice(0, 64), nodeId, type: request.body.frame.type }, 'a request forwarded by another master');
      try {
        if (frame.streamed) {
          const stream = await hub.fetchStreamHere(nodeId, frame.build);
          return reply.type('application/octet-stream').send(stream);
        }
        return { data: await hub.requestHere<unknown>(nodeId, frame.build, need) };
      } catch (err) {
        if (!(err instanceof NodeOfflineError || err instanceof NodeRequestError)) throw err;
        return reply.code(toErrorReply(err, String(request.id)).status).send(peerErrorBody(err));
      }
    });
  };
}
