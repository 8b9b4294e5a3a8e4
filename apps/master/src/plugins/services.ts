import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppDeps } from '../app-deps.ts';
import { createAuditLog, type AuditLog } from '../audit/audit-log.ts';
import type { LoginLimiter } from '../auth/login-limiter.ts';
import { createSharedLoginLimiter } from '../auth/shared-login-limiter.ts';
import { createSessionStore, type SessionStore } from '../auth/sessions.ts';
import { createTokenStore, type TokenStore } from '../auth/tokens.ts';
import { createUsersRepository, type UsersRepository } from '../auth/users-repository.ts';
import '../http/fastify-types.ts';

/** The repositories and stores every route may use, built once from the app's deps. */
export interface Services {
  readonly users: UsersRepository;
  readonly sessions: SessionStore;
  readonly tokens: TokenStore;
  readonly auditLog: AuditLog;
  readonly loginLimiter: LoginLimiter;
}

export function createServices(deps: AppDeps): Services {
  const { database, now, config } = deps;
  return {
    users: createUsersRepository(database.db, now),
    sessions: createSessionStore(database.db, now, config.auth.sessionHours),
    tokens: createTokenStore(database.db, now),
    auditLog: createAuditLog(database.db, now),
    // In the database: masters behind one balancer share the count (docs/security.md).
    loginLimiter: createSharedLoginLimiter(database.db, { scope: 'login', limit: config.auth.loginAttemptsPerMinute, now }),
  };
}

async function services(app: FastifyInstance, options: { deps: AppDeps }): Promise<void> {
  const built = createServices(options.deps);
  app.decorate('deps', options.deps);
  app.decorate('services', built);
  app.decorateRequest('principal', null);
  app.decorateRequest('audit', async function audit(this: FastifyRequest, action: string, target: string, details?: Record<string, unknown>) {
    if (this.principal === null) throw new Error(`audit(${action}) on a request without a principal`);
    await built.auditLog.audit(this.principal, this.ip, action, target, details);
  });
}

export default fp(services, { name: 'moat-services', fastify: '5.x' });
