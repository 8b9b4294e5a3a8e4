import { Type } from 'typebox';
import type { AppDeps } from '../../app-deps.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { getQuarantined, markQuarantine } from '../../data/quarantine-repository.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses } from '../../http/schemas.ts';
import { MessageIdSchema } from '../data/data-schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';
import type { Principal } from '../../app-deps.ts';
import { readLearnMessage, teach } from '../../learn/learn-service.ts';
import type { LearnMessage } from '../../learn/learn-store.ts';

const Params = Type.Object({ id: MessageIdSchema });

/**
 * What only the node holding a message can do: hand over its content, release it, delete it.
 * The master asks over the link; if the node is offline the answer is an immediate 503 naming it.
 */
export function registerQuarantineActionRoutes(app: TypedApp, hub: ClusterHub, deps: AppDeps): void {
  const held = async (id: string) => {
    const q = await getQuarantined(deps.database.db, id);
    if (!q) throw notFound(`quarantined message ${id}`);
    if (q.status !== 'held') throw new ApiError(409, 'MOAT_ERR_CONFLICT', `message ${id} is ${q.status}, no longer held`);
    return q;
  };

  app.get(
    '/quarantine/:id/raw',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'The quarantined message itself (message/rfc822), streamed from the node that holds it',
        tags: ['quarantine'],
        params: Params,
        response: { 200: Type.String({ description: 'The message as received.' }), ...errorResponses(404, 409), 503: Type.Unknown({ description: 'The holding node is offline (MOAT_ERR_NODE_OFFLINE; `details.node` names it).' }) },
      },
    },
    async (request, reply) => {
      const q = await held(request.params.id);
      const stream = await hub.fetchQuarantined(q.nodeId, q.id);
      await request.audit('quarantine.view', `${q.nodeName ?? q.nodeId}/${q.id}`);
      reply.header('content-type', 'message/rfc822');
      reply.header('content-disposition', `attachment; filename="${q.id}.eml"`);
      return reply.send(stream);
    },
  );

  for (const action of ['release', 'delete'] as const) {
    const opts = {
      config: { role: 'operator' as const },
      schema: {
        summary: action === 'release' ? 'Release a quarantined message: its node relays it downstream' : 'Delete a quarantined message on its node',
        tags: ['quarantine'],
        params: Params,
        response: { 200: Type.Object({ ok: Type.Boolean(), status: Type.String() }), ...errorResponses(404, 409), 503: Type.Unknown({ description: 'The holding node is offline.' }) },
      },
    };
    const handler = async (request: { params: { id: string }; principal: Principal | null; audit(action: string, target: string, details?: Record<string, unknown>): void }) => {
      const q = await held(request.params.id);
      // An admin's release says "not spam": the message is read before it leaves the quarantine.
      const lesson = action === 'release' && request.principal?.role === 'admin' ? await contentForLearning(q.nodeId, q.id) : undefined;
      await hub.quarantineAction(q.nodeId, q.id, action);
      const status = action === 'release' ? 'released' : 'deleted';
      await markQuarantine(deps.database.db, q.nodeId, q.id, status, deps.now());
      await request.audit(`quarantine.${action}`, `${q.nodeName ?? q.nodeId}/${q.id}`, { subject: q.subject.slice(0, 200), from: q.mailFrom });
      if (lesson) {
        const t = await teach(hub, { message: lesson, class: 'ham', source: 'admin', actor: request.principal!.username, origin: { nodeId: q.nodeId, messageId: q.id } }, deps.now(), 0, deps.log);
        await request.audit('learn.ham', `${q.nodeName ?? q.nodeId}/${q.id}`, { seq: t.event.seq, digest: t.event.digest, created: t.created, ...(t.event.unlearn ? { unlearn: t.event.unlearn } : {}), by: 'release' });
      }
      return { ok: true, status };
    };
    if (action === 'release') app.post('/quarantine/:id/release', opts, handler);
    else app.delete('/quarantine/:id', opts, handler);
  }

  /** The held message, for a "not spam" lesson; a release never fails for want of it (logged). */
  async function contentForLearning(nodeId: string, id: string): Promise<LearnMessage | undefined> {
    try {
      return await readLearnMessage(await hub.fetchQuarantined(nodeId, id));
    } catch (err) {
      deps.log.warn({ event: 'LEARN_SOURCE_FAILED', nodeId, queueId: id, error: (err as Error).message }, 'the released message could not be read to learn from; released without a lesson');
      return undefined;
    }
  }
}
