import { Type } from 'typebox';
import { BalancerReportSchema, EngineHealthSchema } from '@moat/protocol';
import type { ClusterHub } from '../../cluster/hub.ts';
import { JOIN_TOKEN_DEFAULT_TTL_SECONDS, JOIN_TOKEN_MAX_TTL_SECONDS } from '../../cluster/join-tokens.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses, iso, isoOrNull } from '../../http/schemas.ts';
import { MessageIdSchema } from '../data/data-schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';

const NodeSchema = Type.Object({
  id: Type.String({ description: 'Node id, issued when it joined.' }),
  name: Type.String(),
  online: Type.Boolean({ description: 'Connected now (heartbeats arriving).' }),
  lastSeen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Last frame received from it.' }),
  joinedAt: Type.String({ format: 'date-time' }),
  address: Type.String({ description: 'Where its link came from.' }),
  smtpAddress: Type.String({ description: 'Its SMTP listener, as it reports it.' }),
  software: Type.String(),
  rulesVersion: Type.Integer({ description: 'The rules version it has applied.' }),
  rulesCurrent: Type.Boolean({ description: 'Whether that is the current version.' }),
  queueDepth: Type.Integer({ description: 'Messages in its relay queue (from its last heartbeat).' }),
  outboxBacklog: Type.Integer({ description: 'Events it has not yet delivered to the master.' }),
  eventsRewound: Type.Optional(
    Type.Object(
      {
        count: Type.Integer({ description: 'Events that came under an (epoch, seq) the node had already used for another event.' }),
        lastAt: Type.String({ format: 'date-time' }),
        lastEpoch: Type.String(),
        lastSeq: Type.Integer(),
      },
      { description: 'A warning: the node\'s event sequence went backwards within one run (its disk went back in time under a live process, e.g. a VM snapshot restored with its memory). The events were stored, not dropped; check the node. Absent when it never happened.' },
    ),
  ),
  engines: Type.Optional(
    Type.Object(
      {
        reportedAt: Type.String({ format: 'date-time', description: 'When the heartbeat carrying it arrived (memory only: absent after a master restart until the next heartbeat).' }),
        items: Type.Array(Type.Object({
          ...EngineHealthSchema.properties,
          checkedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When its state was last learned, by a scan or a probe.' })),
          lastError: Type.Optional(Type.Object({ message: Type.String(), at: Type.String({ format: 'date-time' }) }, { description: 'The last failure since the scanner started (kept after the engine is up again).' })),
        })),
      },
      { description: "Each analyzer's engine on the node (from its last heartbeat; scanners of protocol 5): up or down, scan latency p50/p95 over the last minutes, errors, the last error and when. A stale `reportedAt` on an offline node is its last word. Absent before its first such heartbeat." },
    ),
  ),
  balancer: Type.Optional(
    Type.Object(
      { ...BalancerReportSchema.properties, reportedAt: Type.String({ format: 'date-time', description: 'When the heartbeat carrying it arrived (memory only: absent after a master restart until the next heartbeat).' }) },
      { description: "The node's embedded balancer (from its last heartbeat): whether it holds the virtual address, its election state and priority, and each upstream's health, fails, weight and connections. Absent when the node runs no balancer." },
    ),
  ),
});
const JoinTokenRequestSchema = Type.Object(
  {
    node: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'The node name the token admits (the scanner\'s `node.name`).' }),
    ttlSeconds: Type.Integer({ minimum: 60, maximum: JOIN_TOKEN_MAX_TTL_SECONDS, default: JOIN_TOKEN_DEFAULT_TTL_SECONDS, description: 'How long the token is valid (default an hour, at most a week). It is used up by the first join.' }),
    replace: Type.Boolean({ default: false, description: 'For a node that is in the cluster now: the token gives its name a new key (the old one is refused from then on, and its live link is closed when the new node joins). Without it such a token is refused with 409.' }),
  },
  { additionalProperties: false },
);
const JoinTokenSchema = Type.Object({
  token: Type.String({ description: 'The one-time join token: shown once, the master keeps only its SHA-256. Give it to the node as `master.joinToken` (or MOAT_JOIN_TOKEN).' }),
  node: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  replace: Type.Boolean(),
});
const NodeIdParams = Type.Object({ nodeId: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Node id.' }) });

/** The node registry and each node's relay queue (fetched live over the link). */
export function registerNodeRoutes(app: TypedApp, hub: ClusterHub, currentVersion: () => Promise<number>): void {
  app.get(
    '/nodes',
    { schema: { summary: 'Every scanner that joined, with its live state', tags: ['cluster'], response: { 200: Type.Object({ items: Type.Array(NodeSchema) }), ...errorResponses() } } },
    async () => {
      const current = await currentVersion();
      const warnings = await hub.eventWarnings();
      return {
        items: (await hub.nodes()).map((n) => {
          const lb = hub.balancerStatus(n.id);
          const w = warnings.get(n.id);
          const eng = hub.engineHealth(n.id);
          return {
          id: n.id, name: n.name, online: n.online, lastSeen: isoOrNull(n.lastSeen || null), joinedAt: iso(n.joinedAt), address: n.address, smtpAddress: n.smtpAddress,
          software: n.software, rulesVersion: n.rulesVersion, rulesCurrent: n.rulesVersion === current, queueDepth: n.queueDepth, outboxBacklog: n.outboxBacklog,
          ...(w ? { eventsRewound: { count: w.rewound, lastAt: iso(w.lastAt), lastEpoch: w.lastEpoch, lastSeq: w.lastSeq } } : {}),
          ...(eng ? { engines: { reportedAt: iso(eng.at), items: eng.engines.map(({ checkedAt, lastError, ...e }) => ({ ...e, ...(checkedAt !== undefined ? { checkedAt: iso(checkedAt) } : {}), ...(lastError ? { lastError: { message: lastError.message, at: iso(lastError.at) } } : {}) })) } } : {}),
          ...(lb ? { balancer: { ...lb.report, reportedAt: iso(lb.at) } } : {}),
          };
        }),
      };
    },
  );

  app.post(
    '/nodes/join-tokens',
    {
      schema: {
        summary: 'Make a one-time join token for a node name',
        description: 'A new scanner joins with it once (`master.joinToken`), registering its own public key; the token expires after `ttlSeconds` and is used up by the join. '
          + 'A token for a name that is in the cluster now is refused with 409 MOAT_ERR_NODE_EXISTS unless `replace` is set: a node\'s key changes only by this explicit action. Audited (`node.join-token`, without the token).',
        tags: ['cluster'],
        body: JoinTokenRequestSchema,
        response: { 201: JoinTokenSchema, ...errorResponses(400, 409) },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const { node, ttlSeconds, replace } = request.body;
      const made = await hub.mintJoinToken(node, { ttlSeconds, replace, createdBy: request.principal?.username ?? 'unknown' });
      if (!made.ok) throw new ApiError(409, made.code, made.message);
      await request.audit('node.join-token', `node:${node}`, { ttlSeconds, replace, expiresAt: iso(made.minted.expiresAt) });
      return reply.code(201).send({ token: made.minted.token, node, expiresAt: iso(made.minted.expiresAt), replace });
    },
  );

  app.delete(
    '/nodes/:nodeId',
    {
      schema: {
        summary: 'Remove a stopped node from the cluster',
        description: 'For a decommissioned scanner: it leaves the node list and its public key is erased, so it cannot connect with its key again; the message log keeps its entries and name. '
          + 'Refused with 409 MOAT_ERR_NODE_ONLINE while it is connected: stop it first (drain it with `nodes.<name>.maintenance` before, so no session is cut). '
          + 'Messages still in its quarantine or queue stay on its disk only. To bring it back, make it a new join token (`POST /nodes/join-tokens`).',
        tags: ['cluster'],
        params: NodeIdParams,
        response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses(404, 409) },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      const node = (await hub.nodes()).find((n) => n.id === request.params.nodeId);
      const outcome = await hub.removeNode(request.params.nodeId);
      if (outcome === 'unknown') throw notFound(`node ${request.params.nodeId}`);
      if (outcome === 'online') throw new ApiError(409, 'MOAT_ERR_NODE_ONLINE', `node ${node?.name ?? request.params.nodeId} is connected: stop it first, then remove it`);
      await request.audit('node.remove', `node:${request.params.nodeId}`, { name: node?.name });
      return { ok: true };
    },
  );

  app.get(
    '/nodes/:nodeId/queue',
    {
      schema: {
        summary: "A node's relay queue, live: counts, oldest, and the messages waiting with their last error",
        tags: ['cluster'],
        params: NodeIdParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
        response: { 200: Type.Unknown({ description: '{ count, oldest, entries: [...] }' }), ...errorResponses(404) },
      },
    },
    async (request) => {
      await known(hub, request.params.nodeId);
      return hub.queueList(request.params.nodeId, request.query.limit);
    },
  );

  const SUMMARY = {
    retry: 'Retry a queued message now',
    delete: "Remove a message from a node's relay queue (no bounce: the sender is not told)",
    bounce: 'Bounce a queued message now: its recipients fail (5.0.0, with the last error) and its sender gets a bounce, as for any permanent failure (none for a message released from the quarantine, a bounce, or the master\'s own mail). 409 while it is being delivered at that moment; 502 MOAT_ERR_NODE_TOO_OLD from a scanner older than protocol 6',
  } as const;
  for (const action of ['retry', 'delete', 'bounce'] as const) {
    const handler = async (request: { params: { nodeId: string; queueId: string }; audit(action: string, target: string, details?: Record<string, unknown>): void }) => {
      await known(hub, request.params.nodeId);
      await hub.queueAction(request.params.nodeId, request.params.queueId, action);
      await request.audit(`queue.${action}`, `${request.params.nodeId}/${request.params.queueId}`);
      return { ok: true };
    };
    const schema = {
      summary: SUMMARY[action],
      tags: ['cluster'],
      params: Type.Object({ nodeId: NodeIdParams.properties.nodeId, queueId: MessageIdSchema }),
      response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses(404, 409) },
    };
    if (action === 'delete') app.delete('/nodes/:nodeId/queue/:queueId', { schema, config: { role: 'operator' } }, handler);
    else app.post(`/nodes/:nodeId/queue/:queueId/${action}`, { schema, config: { role: 'operator' } }, handler);
  }
}

async function known(hub: ClusterHub, nodeId: string): Promise<void> {
  if (!(await hub.nodes()).some((n) => n.id === nodeId)) throw notFound(`node ${nodeId}`);
}
