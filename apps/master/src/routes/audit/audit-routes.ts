import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses, iso, PageLimit, Timestamp } from '../../http/schemas.ts';

const AuditQuery = Type.Object(
  {
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only entries by this user name (exact).' })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this action, e.g. `rules.update`.' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Only entries at or after this time.' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Only entries before this time.' })),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'Page cursor: entries with an id below this (the previous page\'s `next`).' })),
    limit: PageLimit(500, 100),
  },
  { additionalProperties: false },
);

const AuditEntrySchema = Type.Object({
  id: Type.Integer({ description: 'Entry id; increases with time.' }),
  at: Timestamp('When.'),
  username: Type.String({ description: 'Who (for a failed login: the name that was tried).' }),
  via: Type.String({ description: '`session`, `token:<id>`, `password` (a login) or `system`.' }),
  ip: Type.String({ description: 'Client address.' }),
  action: Type.String({ description: 'What, e.g. `rules.update` (see the README for the list).' }),
  target: Type.String({ description: 'On what, e.g. `rules:7`, `user:3`, `token:<id>`.' }),
  details: Type.Record(Type.String(), Type.Unknown(), { description: 'Specifics of the change; never secrets.' }),
});

/** The audit trail, newest first (registered under /api/v1). */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auditLog } = app.services;

  app.get(
    '/audit',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Read the audit log (newest first, paginated)',
        tags: ['audit'],
        querystring: AuditQuery,
        response: {
          200: Type.Object({
            entries: Type.Array(AuditEntrySchema),
            next: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the next page; null on the last page.' }),
          }),
          ...errorResponses(400),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? 100;
      const entries = await auditLog.list({
        username: q.username,
        action: q.action,
        since: q.since === undefined ? undefined : Date.parse(q.since),
        until: q.until === undefined ? undefined : Date.parse(q.until),
        before: q.before,
        limit,
      });
      const last = entries.at(-1);
      return { entries: entries.map((e) => ({ ...e, at: iso(e.at) })), next: entries.length === limit && last !== undefined ? last.id : null };
    },
  );
};
