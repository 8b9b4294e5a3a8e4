import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { ApiError } from '../http/api-error.ts';
import { errorResponses } from '../http/schemas.ts';
import type { Failover } from './failover.ts';

/**
 * `/cluster/replication`: the WebSocket a standby master dials (it proves itself inside the
 * link, like a scanner on `/cluster`), and `GET /api/v1/cluster/masters`: this master's role,
 * epoch, election state and each standby's lag (auditor role).
 */
export function failoverRoutes(failover: Failover): FastifyPluginAsync {
  return async (app) => {
    app.get('/cluster/replication', { websocket: true, config: { public: true }, schema: { hide: true } }, (socket, request) => {
      failover.acceptStandby(socket, request.ip);
    });
    app.get('/api/v1/cluster/masters', { schema: { tags: ['cluster'], summary: 'The masters: role, epoch, election, standbys and their replication lag', response: { 200: MastersSchema, ...errorResponses() } } }, async () => failover.status());
  };
}

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const MastersSchema = Type.Object({
  name: Type.String({ description: 'This master (node.name).' }),
  role: Type.Union([Type.Literal('active'), Type.Literal('standby')]),
  epoch: Type.Integer({ description: 'The highest epoch this master has seen: its own term\'s while active.' }),
  election: Nullable(Type.Object({ state: Type.String({ description: 'init, backup, master or fault' }), priority: Type.Integer(), master: Nullable(Type.String({ description: 'The election master\'s address as seen here.' })) })),
  witness: Nullable(Type.String({ description: 'The witness URL, when configured.' })),
  standbys: Type.Array(Type.Object({
    name: Type.String(), address: Type.String(), connectedAt: Type.Integer({ description: 'ms since the epoch' }), ackedSeq: Type.Integer({ description: 'The last log entry it committed.' }),
    lagEvents: Type.Integer({ description: 'Log entries it has not committed yet.' }), lagSeconds: Type.Number({ description: 'How far behind it is, in this master\'s time.' }),
    synced: Type.Boolean({ description: 'Caught up since it connected: acknowledgements wait for it.' }),
  }), { description: 'Active master: the standbys following it now.' }),
  replication: Nullable(Type.Object({
    following: Nullable(Type.String()), activeName: Nullable(Type.String()), appliedSeq: Type.Integer(), headSeq: Type.Integer(),
    lagEvents: Type.Integer(), lagSeconds: Type.Number(), connected: Type.Boolean(),
  }, { description: 'Standby: its replication (a standby answers 503 to the API: this shows only on an active master that just stepped down).' })),
});

/** Paths a standby still serves: probes, metrics, the links (which refuse by themselves) and the console's files. */
const STANDBY_OPEN = /^\/(healthz|metrics|cluster(\/replication)?)(\?|$)/;

/** On a standby every API and end-user request is answered 503 before auth runs (nothing may be written there). */
export function standbyGate(failover: Failover): (request: FastifyRequest) => void {
  return (request) => {
    if (failover.isActive() || STANDBY_OPEN.test(request.url)) return;
    if (request.url.startsWith('/api/') || request.url.startsWith('/user/')) {
      throw new ApiError(503, 'MOAT_ERR_STANDBY', 'this master is a standby: use the active master', { role: 'standby', epoch: failover.epoch() }, { 'retry-after': '5' });
    }
  };
}

/**
 * A change (any method but GET/HEAD) is answered only once a standby holds it, so "saved" in
 * the console means it survives a failover (a rule saved and acknowledged is in force after it).
 */
export function replicatedBeforeReply(failover: Failover): (request: FastifyRequest) => Promise<{ statusCode: number; body: unknown } | undefined> {
  return async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD' || !failover.isActive()) return undefined;
    await failover.replicated();
    if (failover.isActive()) return undefined;
    return {
      statusCode: 503,
      body: { error: 'this master stepped down before the change reached a standby: it is not saved; retry on the active master', code: 'MOAT_ERR_STANDBY', details: { role: 'standby', epoch: failover.epoch() } },
    };
  };
}
