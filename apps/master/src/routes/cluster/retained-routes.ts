import { Type } from 'typebox';
import { compileRules } from '@moat/rules';
import type { AppDeps } from '../../app-deps.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { getMessage, type MessageDetail } from '../../data/messages-repository.ts';
import { currentRules } from '../../rules/rules-repository.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses } from '../../http/schemas.ts';
import { MessageIdSchema, NodeIdSchema } from '../data/data-schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';

const Params = Type.Object({ nodeId: NodeIdSchema, id: MessageIdSchema });
const Recipient = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>@]+@[^\\s<>@]+$', description: 'An envelope address in an accepted domain.' });
const RedeliverBody = Type.Object(
  {
    rcptTo: Type.Optional(Type.Array(Recipient, { minItems: 1, maxItems: 100, description: 'Deliver to these recipients instead of the original ones.' })),
  },
  { additionalProperties: false },
);
const Offline = Type.Unknown({ description: 'The holding node is offline (MOAT_ERR_NODE_OFFLINE; `details.node` names it).' });

/**
 * The copy of any accepted message kept on the node that handled it (retention): its content,
 * streamed from that node, and a re-delivery. Operator role, like the quarantine's content and
 * release: both hand over or send out a message.
 */
export function registerRetainedRoutes(app: TypedApp, hub: ClusterHub, deps: AppDeps): void {
  /** The log entry, if its copy is still kept: 404 when none was kept, 410 once it expired. */
  const kept = async (nodeId: string, id: string): Promise<MessageDetail> => {
    const m = await getMessage(deps.database.db, nodeId, id);
    if (!m) throw notFound(`message ${id} of node ${nodeId}`);
    if (!m.retained) throw new ApiError(404, 'MOAT_ERR_NOT_RETAINED', `no copy of message ${id} was kept (retention was off for its verdict, or it was rejected)`);
    if (m.retained.status === 'expired') {
      const why = m.retained.reason === 'budget' ? 'removed to stay within the disk budget' : 'past the retention period';
      throw new ApiError(410, 'MOAT_ERR_GONE', `the retained copy of message ${id} is gone: ${why}, on ${new Date(m.retained.expiredAt ?? 0).toISOString()}`);
    }
    return m;
  };
  const target = (m: MessageDetail) => `${m.nodeName ?? m.nodeId}/${m.id}`;

  app.get(
    '/messages/:nodeId/:id/raw',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'The retained copy of a message (message/rfc822, as it arrived), streamed from the node that keeps it',
        tags: ['messages'],
        params: Params,
        response: { 200: Type.String({ description: 'The message as received, before Moat added its headers.' }), ...errorResponses(404, 410), 503: Offline },
      },
    },
    async (request, reply) => {
      const m = await kept(request.params.nodeId, request.params.id);
      const stream = await hub.fetchRetained(m.nodeId, m.id);
      await request.audit('message.view', target(m));
      reply.header('content-type', 'message/rfc822');
      reply.header('content-disposition', `attachment; filename="${m.id}.eml"`);
      return reply.send(stream);
    },
  );

  app.post(
    '/messages/:nodeId/:id/redeliver',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Deliver the retained copy again, to the original recipients or the given ones (in accepted domains)',
        description: 'The node queues the copy under a new queue id, with the headers of its first delivery and a trace of this one; its delivery shows on the original log entry.',
        tags: ['messages'],
        params: Params,
        body: Type.Optional(RedeliverBody),
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            queueId: Type.String({ description: 'Queue id of the new delivery on the node.' }),
            rcptTo: Type.Array(Type.String(), { description: 'Who it goes to.' }),
          }),
          ...errorResponses(400, 404, 410),
          503: Offline,
        },
      },
    },
    async (request) => {
      const rcptTo = request.body?.rcptTo;
      if (rcptTo) await checkAccepted(rcptTo);
      const m = await kept(request.params.nodeId, request.params.id);
      const done = await hub.redeliverRetained(m.nodeId, m.id, rcptTo);
      await request.audit('message.redeliver', target(m), { subject: m.subject.slice(0, 200), from: m.mailFrom, rcptTo: done.rcptTo, queueId: done.queueId, originalRecipients: rcptTo === undefined });
      return { ok: true, queueId: done.queueId, rcptTo: done.rcptTo };
    },
  );

  /** A re-delivery goes to the organisation's own mail server: recipients in accepted domains only. */
  async function checkAccepted(rcptTo: readonly string[]): Promise<void> {
    const rules = await currentRules(deps.database.db);
    if (!rules) return;
    const accepted = compileRules(rules.document).acceptedDomain;
    const problems = rcptTo.flatMap((a, i) => (accepted(a.slice(a.lastIndexOf('@') + 1)) === undefined ? [{ field: `body.rcptTo.${i}`, message: 'is not in an accepted domain' }] : []));
    if (problems.length > 0) throw new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', problems);
  }
}
