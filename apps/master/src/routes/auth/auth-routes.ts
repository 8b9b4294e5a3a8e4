import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { decoyHash, hashPassword, verifyPassword } from '../../auth/passwords.ts';
import { cookieIsSecure, SESSION_COOKIE, sessionCookieOptions } from '../../auth/session-cookie.ts';
import type { AttemptTicket } from '../../auth/login-limiter.ts';
import { ApiError } from '../../http/api-error.ts';
import { errorResponses, iso } from '../../http/schemas.ts';
import { LoginBody, LoginResult, MeResult, PasswordChangeBody } from './auth-schemas.ts';

const badCredentials = (): ApiError => new ApiError(401, 'MOAT_ERR_BAD_CREDENTIALS', 'wrong user name or password');

/** Sign in, sign out, who am I, change my password (registered under /api/v1). */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, sessions, loginLimiter, auditLog } = app.services;
  const { config } = app.deps;

  /** Count the attempt before the password is checked (parallel attempts see each other); 429 past a limit. */
  async function throttle(ip: string, username: string): Promise<AttemptTicket> {
    const verdict = await loginLimiter.attempt(ip, username);
    if (verdict.allowed) return verdict.ticket;
    app.log.warn({ event: 'AUTH_THROTTLED', ip, username }, 'login refused: too many failed attempts');
    throw new ApiError(
      429,
      'MOAT_ERR_RATE_LIMITED',
      'too many failed sign-in attempts; try again later',
      { retryAfterSeconds: verdict.retryAfterSeconds },
      { 'retry-after': String(verdict.retryAfterSeconds) },
    );
  }

  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        summary: 'Sign in: sets the `moat_session` cookie',
        description: `Attempts are counted before the password is checked, and given back when it was right: at most auth.loginAttemptsPerMinute per client address (an IPv6 /64), as many per user name and address, and ten times that per user name from addresses that never signed in to it; beyond that 429 with Retry-After. Failures are audited without the password.`,
        tags: ['auth'],
        security: [],
        body: LoginBody,
        response: { 200: LoginResult, ...errorResponses(400, 429) },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const ticket = await throttle(request.ip, username);
      const user = await users.findByUsername(username);
      const hash = user === undefined ? undefined : await users.passwordHashOf(user.id);
      // Verify even for an unknown name, so timing does not tell which names exist.
      const matches = await verifyPassword(password, hash ?? (await decoyHash()));
      if (user === undefined || !matches || user.disabled) {
        const reason = user === undefined ? 'unknown user' : !matches ? 'wrong password' : 'user disabled';
        await auditLog.audit({ username, via: 'password' }, request.ip, 'auth.login_failed', `user:${username}`, { reason });
        request.log.warn({ event: 'AUTH_LOGIN_FAILED', ip: request.ip, username, reason }, 'login failed');
        throw badCredentials();
      }
      await loginLimiter.succeeded(ticket);
      await sessions.sweep();
      const session = await sessions.create(user.id, request.ip, request.headers['user-agent'] ?? '');
      reply.setCookie(SESSION_COOKIE, session.token, sessionCookieOptions(cookieIsSecure(config), session.expiresAt));
      await auditLog.audit({ username: user.username, via: 'password' }, request.ip, 'auth.login', `user:${user.id}`);
      request.log.info({ event: 'AUTH_LOGIN', ip: request.ip, username: user.username }, 'signed in');
      return { username: user.username, role: user.role, expiresAt: iso(session.expiresAt) };
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { role: 'auditor' },
      schema: { summary: 'Sign out: ends this session and clears the cookie', tags: ['auth'], response: { 204: { type: 'null', description: 'Signed out.' }, ...errorResponses() } },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token !== undefined && request.principal?.via === 'session') await sessions.revoke(token);
      reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(cookieIsSecure(config)));
      await request.audit('auth.logout', `user:${request.principal?.userId}`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    {
      config: { role: 'auditor' },
      schema: { summary: 'The signed-in principal', tags: ['auth'], response: { 200: MeResult, ...errorResponses() } },
    },
    async (request) => {
      const p = request.principal!;
      return { userId: p.userId, username: p.username, role: p.role, via: p.via };
    },
  );

  app.post(
    '/auth/password',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Change your own password',
        description: 'Needs the current password (wrong: 403 MOAT_ERR_BAD_CREDENTIALS, counted like a failed login). Ends your other sessions.',
        tags: ['auth'],
        body: PasswordChangeBody,
        response: { 204: { type: 'null', description: 'Changed.' }, ...errorResponses(400, 429) },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      const ticket = await throttle(request.ip, p.username);
      const hash = await users.passwordHashOf(p.userId);
      if (hash === undefined || !(await verifyPassword(request.body.currentPassword, hash))) {
        await request.audit('auth.password_change_failed', `user:${p.userId}`, { reason: 'wrong current password' });
        throw new ApiError(403, 'MOAT_ERR_BAD_CREDENTIALS', 'the current password is wrong');
      }
      await loginLimiter.succeeded(ticket);
      await users.update(p.userId, { passwordHash: await hashPassword(request.body.newPassword) });
      const ended = await sessions.revokeAllForUser(p.userId, p.via === 'session' ? request.cookies[SESSION_COOKIE] : undefined);
      // A new password also ends the user's API tokens (made with the old one's trust).
      const tokensRevoked = await app.services.tokens.revokeAllForUser(p.userId);
      await request.audit('auth.password_change', `user:${p.userId}`, { sessionsEnded: ended, tokensRevoked });
      return reply.code(204).send(null);
    },
  );
};
