import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ROLE_RANK, type Principal } from '../../app-deps.ts';
import { TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS, type ApiToken } from '../../auth/tokens.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses, iso, isoOrNull } from '../../http/schemas.ts';
import { CreateTokenBody, CreatedTokenSchema, TokenParams, TokenSchema } from './tokens-schemas.ts';

/**
 * API tokens (registered under /api/v1). Every signed-in user manages their own tokens;
 * an admin sees and revokes everyone's, and may create one for another user.
 */
export const tokensRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { tokens, users } = app.services;
  const isAdmin = (p: Principal): boolean => p.role === 'admin';

  app.get(
    '/tokens',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'List API tokens: your own, or everyone\'s for an admin',
        tags: ['tokens'],
        response: { 200: Type.Object({ tokens: Type.Array(TokenSchema) }), ...errorResponses() },
      },
    },
    async (request) => {
      const p = request.principal!;
      return { tokens: (await tokens.list(isAdmin(p) ? undefined : p.userId)).map(view) };
    },
  );

  app.post(
    '/tokens',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Create an API token; the answer is the only time the token is shown',
        tags: ['tokens'],
        body: CreateTokenBody,
        response: { 201: CreatedTokenSchema, ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      const userId = request.body.userId ?? p.userId;
      if (userId !== p.userId && !isAdmin(p)) throw new ApiError(403, 'MOAT_ERR_FORBIDDEN', 'only an admin creates tokens for other users', { required: 'admin' });
      const owner = await users.findById(userId);
      if (owner === undefined) throw notFound('user');
      // A token never does more than the one who made it: its role is at most the creator's.
      const role = request.body.role ?? (ROLE_RANK[owner.role] < ROLE_RANK[p.role] ? owner.role : p.role);
      if (ROLE_RANK[role] > ROLE_RANK[p.role]) throw new ApiError(403, 'MOAT_ERR_FORBIDDEN', `role: a token's role is at most yours (${p.role})`, { field: 'role', required: role, role: p.role });
      const days = request.body.expiresInDays ?? Math.min(TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS[role]);
      if (days > TOKEN_MAX_DAYS[role]) throw new ApiError(400, 'MOAT_ERR_VALIDATION', `expiresInDays: at most ${TOKEN_MAX_DAYS[role]} for a token with the ${role} role`, { field: 'expiresInDays' });
      let expiresAt = app.deps.now() + days * 86_400_000;
      // Made with a token: it dies with that token (revocation cascades) and never outlives it.
      const parent = p.via.startsWith('token:') ? await tokens.findById(p.via.slice('token:'.length)) : undefined;
      if (parent) expiresAt = Math.min(expiresAt, parent.expiresAt);
      const { token, record } = await tokens.create(owner.id, request.body.name, { role, expiresAt, parentId: parent?.id });
      await request.audit('token.create', `token:${record.id}`, { name: record.name, forUser: owner.username, role, expiresAt: iso(expiresAt), ...(parent ? { madeWithToken: parent.id } : {}) });
      return reply.code(201).send({ ...view(record), token });
    },
  );

  app.delete(
    '/tokens/:id',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Revoke an API token (your own; an admin: any)',
        tags: ['tokens'],
        params: TokenParams,
        response: { 204: { type: 'null', description: 'Revoked (also if it already was).' }, ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      const record = await tokens.findById(request.params.id);
      // Someone else's token is "not found" to a non-admin: ids are not a way to probe.
      if (record === undefined || (record.userId !== p.userId && !isAdmin(p))) throw notFound('token');
      await tokens.revoke(record.id);
      await request.audit('token.revoke', `token:${record.id}`, { name: record.name, owner: record.username });
      return reply.code(204).send(null);
    },
  );
};

function view(t: ApiToken) {
  return {
    id: t.id,
    name: t.name,
    userId: t.userId,
    username: t.username,
    role: t.role,
    expiresAt: iso(t.expiresAt),
    parentId: t.parentId,
    createdAt: iso(t.createdAt),
    lastUsedAt: isoOrNull(t.lastUsedAt),
    revokedAt: isoOrNull(t.revokedAt),
  };
}
