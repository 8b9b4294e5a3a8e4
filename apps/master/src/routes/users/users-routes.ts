import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { hashPassword } from '../../auth/passwords.ts';
import { isUniqueViolation, type User } from '../../auth/users-repository.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses, iso } from '../../http/schemas.ts';
import { CreateUserBody, PatchUserBody, UserParams, UserSchema } from './users-schemas.ts';

const lastAdmin = (): ApiError =>
  new ApiError(409, 'MOAT_ERR_LAST_ADMIN', 'this would leave no enabled admin; make someone else admin first');

/** User management (registered under /api/v1). Reading needs auditor; changes need admin. */
export const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, sessions } = app.services;

  app.get(
    '/users',
    {
      config: { role: 'auditor' },
      schema: { summary: 'List users', tags: ['users'], response: { 200: Type.Object({ users: Type.Array(UserSchema) }), ...errorResponses() } },
    },
    async () => ({ users: (await users.list()).map(view) }),
  );

  app.post(
    '/users',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Create a user',
        tags: ['users'],
        body: CreateUserBody,
        response: { 201: UserSchema, ...errorResponses(400, 409) },
      },
    },
    async (request, reply) => {
      const { username, password, role } = request.body;
      let user: User;
      try {
        user = await users.create(username, await hashPassword(password), role);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ApiError(409, 'MOAT_ERR_USERNAME_TAKEN', `user name ${username} is taken`);
        throw err;
      }
      await request.audit('user.create', `user:${user.id}`, { username: user.username, role });
      return reply.code(201).send(view(user));
    },
  );

  app.patch(
    '/users/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Change a user\'s role, disable or enable it, or reset its password',
        tags: ['users'],
        params: UserParams,
        body: PatchUserBody,
        response: { 200: UserSchema, ...errorResponses(400, 404, 409) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { role, disabled, password } = request.body;
      const user = (await users.findById(id)) ?? throwNotFound();
      const staysAdmin = (role ?? user.role) === 'admin' && !(disabled ?? user.disabled);
      if (user.role === 'admin' && !user.disabled && !staysAdmin && (await users.activeAdminCount()) <= 1) throw lastAdmin();
      const passwordHash = password === undefined ? undefined : await hashPassword(password);
      const updated = await users.update(id, { ...(role && { role }), ...(disabled !== undefined && { disabled }), ...(passwordHash && { passwordHash }) });
      const endSessions = password !== undefined || disabled === true;
      const sessionsEnded = endSessions ? await sessions.revokeAllForUser(id) : 0;
      // Its API tokens go with a new password or a disabled account, like its sessions.
      const tokensRevoked = endSessions ? await app.services.tokens.revokeAllForUser(id) : 0;
      await request.audit('user.update', `user:${id}`, {
        username: user.username,
        ...(role !== undefined && { role: { from: user.role, to: role } }),
        ...(disabled !== undefined && { disabled: { from: user.disabled, to: disabled } }),
        ...(password !== undefined && { passwordReset: true }),
        sessionsEnded,
        tokensRevoked,
      });
      return view(updated ?? throwNotFound());
    },
  );

  app.delete(
    '/users/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Delete a user (and its sessions and tokens)',
        description: 'You cannot delete yourself (MOAT_ERR_SELF_DELETE) or the last enabled admin (MOAT_ERR_LAST_ADMIN). The audit log keeps the name.',
        tags: ['users'],
        params: UserParams,
        response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const user = (await users.findById(id)) ?? throwNotFound();
      if (user.id === request.principal?.userId) throw new ApiError(409, 'MOAT_ERR_SELF_DELETE', 'you cannot delete your own user');
      if (user.role === 'admin' && !user.disabled && (await users.activeAdminCount()) <= 1) throw lastAdmin();
      await users.remove(id);
      await request.audit('user.delete', `user:${id}`, { username: user.username, role: user.role });
      return reply.code(204).send(null);
    },
  );
};

function throwNotFound(): never {
  throw notFound('user');
}

function view(user: User) {
  return { id: user.id, username: user.username, role: user.role, disabled: user.disabled, createdAt: iso(user.createdAt) };
}
