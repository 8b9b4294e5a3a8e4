import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { LearnClassSchema } from '@moat/protocol';
import type { AppDeps } from '../../app-deps.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { getMessage } from '../../data/messages-repository.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses, iso, isoOrNull } from '../../http/schemas.ts';
import { readLearnMessage, teach, type Taught } from '../../learn/learn-service.ts';
import type { LearnSource } from '../../learn/learn-store.ts';
import { MessageIdSchema, NodeIdSchema } from '../data/data-schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';

/** Largest message `POST /learn` takes (all of it is hashed; its first 512 KB is what engines learn from). */
export const MAX_LEARN_UPLOAD_BYTES = 32 * 1024 * 1024;
const DEFAULT_WAIT_SECONDS = 30;

const Wait = Type.Integer({ minimum: 0, maximum: 600, default: DEFAULT_WAIT_SECONDS, description: 'Most seconds to wait for every online scanner to apply it; past it the answer is 202 with the nodes still pending (0: do not wait).' });
const EventSchema = Type.Object({
  seq: Type.Integer({ description: 'Its place in the learn log.' }),
  id: Type.String(),
  class: LearnClassSchema,
  unlearn: Type.Union([LearnClassSchema, Type.Null()], { description: 'A reversal: the class taught before, which every node forgets first.' }),
  digest: Type.String({ description: 'SHA-256 of the message.' }),
  size: Type.Integer(),
  source: Type.String({ description: '`admin`, `user` (digest page) or `cli` (`moat learn`, POST /learn).' }),
  actor: Type.String(),
  originNode: Type.Union([Type.String(), Type.Null()]),
  originMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
const Pending = Type.Array(Type.Object({ node: Type.String(), error: Type.Optional(Type.String({ description: 'Why it is behind: an engine of the node failed on this event (retried).' })) }));
const TaughtSchema = Type.Object({
  event: EventSchema,
  created: Type.Boolean({ description: 'False: the message already was what it is taught to be; nothing new.' }),
  complete: Type.Boolean({ description: 'Every online scanner has applied it.' }),
  applied: Type.Array(Type.String(), { description: 'Online scanners that have applied it.' }),
  pending: Pending,
});
const NodeLearnSchema = Type.Object({
  nodeId: Type.String(),
  name: Type.String(),
  online: Type.Boolean(),
  appliedSeq: Type.Integer({ description: 'The last learn event it applied.' }),
  appliedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  behind: Type.Integer({ description: 'Events of the log it has not applied.' }),
  spam: Type.Integer({ description: 'Events applied that taught spam.' }),
  ham: Type.Integer({ description: 'Events applied that taught ham.' }),
  lastError: Type.Union([Type.String(), Type.Null()], { description: 'The engine failure that holds it back, if any (the event is retried).' }),
  lastErrorAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/**
 * Cluster-wide learning (docs/detection.md, "Learning"): teach a logged message or an uploaded
 * one as spam or ham, and see what each node has applied. Admin role: a lesson changes how every
 * scanner filters. A route answers once every online scanner has applied the event (or 202 after
 * its wait, naming those still pending).
 */
export function registerLearnRoutes(app: TypedApp, hub: ClusterHub, deps: AppDeps): void {
  const answer = (t: Taught) => ({
    event: { ...t.event, createdAt: iso(t.event.createdAt) },
    created: t.created,
    complete: t.outcome.complete,
    applied: t.outcome.applied,
    pending: t.outcome.pending,
  });
  const auditTaught = (request: { audit(action: string, target: string, details?: Record<string, unknown>): Promise<void> }, target: string, t: Taught, extra: Record<string, unknown> = {}) =>
    request.audit(`learn.${t.event.class}`, target, { seq: t.event.seq, digest: t.event.digest, created: t.created, ...(t.event.unlearn ? { unlearn: t.event.unlearn } : {}), ...extra });

  app.post(
    '/messages/:nodeId/:id/learn',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Teach every scanner that a logged message is spam or not spam',
        description: 'The master fetches the message from the node that keeps it (its retained copy, else its quarantined file), records a learn event, and every scanner applies it to its own engines (SpamAssassin\'s and Rspamd\'s Bayes, Rspamd\'s fuzzy storage). '
          + 'The same message taught the same class again is no new event; the other class reverses it (every node unlearns, then learns).',
        tags: ['learning'],
        params: Type.Object({ nodeId: NodeIdSchema, id: MessageIdSchema }),
        querystring: Type.Object({ wait: Type.Optional(Wait) }),
        body: Type.Object({ as: LearnClassSchema }, { additionalProperties: false }),
        response: { 200: TaughtSchema, 202: TaughtSchema, ...errorResponses(400, 404, 409, 410), 503: Type.Unknown({ description: 'The node that keeps the message is offline (MOAT_ERR_NODE_OFFLINE).' }) },
      },
    },
    async (request, reply) => {
      const { nodeId, id } = request.params;
      const m = await getMessage(deps.database.db, nodeId, id);
      if (!m) throw notFound(`message ${id} of node ${nodeId}`);
      let stream: Readable;
      if (m.retained?.status === 'kept') stream = await hub.fetchRetained(m.nodeId, m.id);
      else if (m.quarantine?.status === 'held') stream = await hub.fetchQuarantined(m.nodeId, m.id);
      else if (m.retained?.status === 'expired') throw new ApiError(410, 'MOAT_ERR_GONE', `the retained copy of message ${id} is gone: there is nothing to learn from`);
      else throw new ApiError(409, 'MOAT_ERR_NO_COPY', `no copy of message ${id} is kept (not retained, not held in quarantine): there is nothing to learn from`);
      const message = await readLearnMessage(stream);
      const t = await teach(hub, { message, class: request.body.as, source: 'admin', actor: request.principal!.username, origin: { nodeId: m.nodeId, messageId: m.id } }, deps.now(), (request.query.wait ?? DEFAULT_WAIT_SECONDS) * 1000, deps.log);
      await auditTaught(request, `${m.nodeName ?? m.nodeId}/${m.id}`, t, { subject: m.subject.slice(0, 200), from: m.mailFrom });
      return reply.code(t.outcome.complete ? 200 : 202).send(answer(t));
    },
  );

  // A raw message body (for `moat learn`): its own content types, so the JSON routes are unaffected.
  app.register(async (raw) => {
    for (const type of ['message/rfc822', 'application/octet-stream']) {
      raw.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_LEARN_UPLOAD_BYTES }, (_req, body, done) => done(null, body));
    }
    (raw as unknown as TypedApp).post(
      '/learn',
      {
        config: { role: 'admin' },
        bodyLimit: MAX_LEARN_UPLOAD_BYTES,
        schema: {
          summary: 'Teach every scanner that an uploaded message is spam or not spam',
          description: `The body is the message itself (\`Content-Type: message/rfc822\` or \`application/octet-stream\`, at most ${MAX_LEARN_UPLOAD_BYTES} bytes). Used by \`moat learn\` (source \`cli\`), which posts with \`wait=0\` and waits once at the end (GET /learn/nodes?seq=).`,
          tags: ['learning'],
          querystring: Type.Object({ as: LearnClassSchema, wait: Type.Optional(Wait), source: Type.Optional(Type.Union([Type.Literal('cli'), Type.Literal('admin')], { default: 'cli', description: 'Recorded as who taught it.' })) }),
          response: { 200: TaughtSchema, 202: TaughtSchema, ...errorResponses(400, 413, 415) },
        },
      },
      async (request, reply) => {
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError(400, 'MOAT_ERR_VALIDATION', 'the body must be the message (message/rfc822)', [{ field: 'body', message: 'is empty or not a message' }]);
        const source: LearnSource = request.query.source ?? 'cli';
        const t = await teach(hub, { message: await readLearnMessage(Readable.from([body])), class: request.query.as, source, actor: request.principal!.username }, deps.now(), (request.query.wait ?? DEFAULT_WAIT_SECONDS) * 1000, deps.log);
        await auditTaught(request, `sha256:${t.event.digest.slice(0, 16)}`, t, { size: t.event.size, source });
        return reply.code(t.outcome.complete ? 200 : 202).send(answer(t));
      },
    );
  });

  app.get(
    '/learn/nodes',
    {
      schema: {
        summary: 'What each scanner has learned: the last event applied, when, how many of each class, and what holds it back',
        description: 'With `seq`, waits (at most `wait` seconds) until every online scanner has applied that event; `complete` says whether they all have.',
        tags: ['learning'],
        querystring: Type.Object({ seq: Type.Optional(Type.Integer({ minimum: 1, description: 'Wait for this learn event.' })), wait: Type.Optional(Wait) }),
        response: {
          200: Type.Object({
            lastSeq: Type.Integer({ description: 'The newest event of the learn log (0: none).' }),
            complete: Type.Boolean({ description: 'Every online scanner has applied `seq` (the last event when no `seq` is given).' }),
            pending: Pending,
            items: Type.Array(NodeLearnSchema),
          }),
          ...errorResponses(400),
        },
      },
    },
    async (request) => {
      const store = hub.learnStore;
      const lastSeq = await store.lastSeq();
      const seq = request.query.seq ?? lastSeq;
      const outcome = request.query.seq === undefined ? await hub.learning.waitApplied(seq, 0) : await hub.learning.waitApplied(seq, (request.query.wait ?? DEFAULT_WAIT_SECONDS) * 1000);
      const recorded = new Map((await store.nodes()).map((n) => [n.nodeId, n]));
      const items = await Promise.all((await hub.nodes()).filter((n) => n.removedAt === null).map(async (n) => {
        const live = hub.learning.live(n.id);
        const saved = recorded.get(n.id);
        const applied = live?.acked ?? saved?.seq ?? 0;
        const counts = await store.counts(applied);
        const lastError = live ? (live.error ?? null) : (saved?.error ?? null);
        return {
          nodeId: n.id, name: n.name, online: n.online, appliedSeq: applied, appliedAt: isoOrNull(saved?.appliedAt ?? null), behind: Math.max(0, lastSeq - applied),
          spam: counts.spam, ham: counts.ham, lastError, lastErrorAt: lastError === null ? null : isoOrNull(saved?.errorAt ?? null),
        };
      }));
      return { lastSeq, complete: outcome.complete, pending: outcome.pending, items };
    },
  );
}
