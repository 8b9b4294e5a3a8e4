import { Type } from 'typebox';
import type { AppDeps } from '../../app-deps.ts';
import { getQuarantined, searchQuarantine } from '../../data/quarantine-repository.ts';
import { notFound } from '../../http/api-error.ts';
import { errorResponses } from '../../http/schemas.ts';
import { MessageIdSchema, pageOf, QuarantineDetailSchema, QuarantineEntrySchema, QuarantineQuery } from './data-schemas.ts';
import { quarantineDetailOut, quarantineEntryOut } from './data-responses.ts';
import { queryTime, withCursor } from './query-inputs.ts';
import type { TypedApp } from './typed-app.ts';

/** The quarantine index of every node (the messages themselves stay on their node). */
export function registerQuarantineRoutes(app: TypedApp, deps: AppDeps): void {
  app.get(
    '/quarantine',
    {
      schema: {
        summary: 'Search the quarantine of every node (held messages by default, newest first, paginated)',
        tags: ['quarantine'],
        querystring: QuarantineQuery,
        response: { 200: pageOf(QuarantineEntrySchema, 'Quarantined messages'), ...errorResponses(400) },
      },
    },
    async (request) => {
      const { from, to, ...q } = request.query;
      const range = { from: queryTime(from, 'from'), to: queryTime(to, 'to') };
      const page = await withCursor(() => searchQuarantine(deps.database.db, deps.database.engine, { ...q, ...range }));
      return { items: page.items.map(quarantineEntryOut), next: page.next };
    },
  );

  app.get(
    '/quarantine/:id',
    {
      schema: {
        summary: 'One quarantined message by id, whichever node holds it',
        tags: ['quarantine'],
        params: Type.Object({ id: MessageIdSchema }),
        response: { 200: QuarantineDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const q = await getQuarantined(deps.database.db, request.params.id);
      if (!q) throw notFound(`quarantined message ${request.params.id}`);
      return quarantineDetailOut(q);
    },
  );
}
