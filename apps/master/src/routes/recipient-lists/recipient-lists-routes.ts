import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RecipientListsSchema } from '@moat/rules';
import { errorResponses, iso, Timestamp } from '../../http/schemas.ts';
import { VersionsQuery } from '../rules/rules-schemas.ts';
import { allRecipientLists, currentListsVersion, listVersions } from '../../recipient-lists/recipient-lists-store.ts';

const ListChangeSchema = Type.Object({
  recipient: Type.String(),
  list: Type.Union([Type.Literal('allow'), Type.Literal('block')]),
  op: Type.Union([Type.Literal('add'), Type.Literal('remove')]),
  pattern: Type.String(),
});

const ListVersionSchema = Type.Object({
  version: Type.Integer({ minimum: 1, description: 'End-user lists version: a stream of its own, not a rules version.' }),
  createdAt: Timestamp('When this version was stored.'),
  createdBy: Type.String({ description: '`enduser:<address>`, or `system` for the lists moved out of the rules at the upgrade.' }),
  comment: Type.String(),
  change: Type.Optional(ListChangeSchema),
});

/**
 * The end users' own allow and block lists (registered under /api/v1), read-only for the console
 * and API: end users change them from their quarantine page (/user). They are not part of the
 * rules document and have versions of their own, pushed to the scanners apart from the rules.
 */
export const recipientListsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.deps.database.db;

  app.get(
    '/recipient-lists',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'The end users\' own lists and their current version',
        tags: ['rules'],
        response: {
          200: Type.Object({
            version: Type.Integer({ minimum: 0, description: 'The end-user lists version the scanners are pushed (0: none made yet).' }),
            lists: RecipientListsSchema,
          }),
          ...errorResponses(),
        },
      },
    },
    async () => ({ version: await currentListsVersion(db), lists: await allRecipientLists(db) }),
  );

  app.get(
    '/recipient-lists/versions',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'End-user lists history, newest first (rows older than a day beyond the newest 50 are pruned; the audit log keeps every change)',
        tags: ['rules'],
        querystring: VersionsQuery,
        response: {
          200: Type.Object({ versions: Type.Array(ListVersionSchema), next: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the next page; null on the last page.' }) }),
          ...errorResponses(400),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100;
      const versions = await listVersions(db, limit, request.query.before);
      const last = versions.at(-1);
      return {
        versions: versions.map((v) => ({ ...v, createdAt: iso(v.createdAt) })),
        next: versions.length === limit && last !== undefined ? last.version : null,
      };
    },
  );
};
