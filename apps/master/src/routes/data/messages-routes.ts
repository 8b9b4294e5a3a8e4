import { Type } from 'typebox';
import type { AppDeps } from '../../app-deps.ts';
import { getMessage, searchMessages } from '../../data/messages-repository.ts';
import { notFound } from '../../http/api-error.ts';
import { errorResponses } from '../../http/schemas.ts';
import { MessageDetailSchema, MessageIdSchema, MessagesQuery, MessageSummarySchema, NodeIdSchema, pageOf } from './data-schemas.ts';
import { messageDetailOut, messageSummaryOut } from './data-responses.ts';
import { queryTime, withCursor } from './query-inputs.ts';
import type { TypedApp } from './typed-app.ts';

/** The central message log: every message every node handled. */
export function registerMessageRoutes(app: TypedApp, deps: AppDeps): void {
  app.get(
    '/messages',
    {
      schema: {
        summary: 'Search the message log of every node (newest first, paginated)',
        description: 'Exact sender/recipient searches use an index; `contains` and subject searches scan the time range, so give one on a large log.',
        tags: ['messages'],
        querystring: MessagesQuery,
        response: { 200: pageOf(MessageSummarySchema, 'Messages'), ...errorResponses(400) },
      },
    },
    async (request) => {
      const { from, to, ...q } = request.query;
      const range = { from: queryTime(from, 'from'), to: queryTime(to, 'to') };
      const page = await withCursor(() => searchMessages(deps.database.db, deps.database.engine, { ...q, ...range }));
      return { items: page.items.map(messageSummaryOut), next: page.next };
    },
  );

  app.get(
    '/messages/:nodeId/:id',
    {
      schema: {
        summary: 'One message of the log, with its reasons, delivery and quarantine state',
        tags: ['messages'],
        params: Type.Object({ nodeId: NodeIdSchema, id: MessageIdSchema }),
        response: { 200: MessageDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const m = await getMessage(deps.database.db, request.params.nodeId, request.params.id);
      if (!m) throw notFound(`message ${request.params.id} of node ${request.params.nodeId}`);
      return messageDetailOut(m);
    },
  );
}
