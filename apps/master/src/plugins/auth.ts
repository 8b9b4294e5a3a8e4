import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ROLE_RANK, type Principal, type Role } from '../app-deps.ts';
import { SESSION_COOKIE } from '../auth/session-cookie.ts';
import type { User } from '../auth/users-repository.ts';
import { ApiError } from '../http/api-error.ts';
import '../http/fastify-types.ts';

/**
 * Authentication and role checks in one hook for the whole app. Every route requires a
 * principal (a session cookie or an `Authorization: Bearer` API token) unless it declares
 * `config: { public: true }`; unknown paths too, so probing reveals nothing. A route's minimum
 * role is `config.role`, by default auditor for reads and admin for anything that changes.
 * Runs at onRequest: before body parsing, and before a WebSocket handshake.
 */
async function auth(app: FastifyInstance): Promise<void> {
  const { sessions, tokens } = app.services;

  async function authenticate(request: FastifyRequest): Promise<Principal | undefined> {
    const header = request.headers.authorization;
    if (header !== undefined) {
      // A present but bad Authorization header fails; it never falls back to the cookie.
      const m = /^Bearer +(\S+)$/i.exec(header);
      const found = m?.[1] === undefined ? undefined : await tokens.verify(m[1]);
      return found && principalOf(found.user, `token:${found.tokenId}`);
    }
    const cookie = request.cookies[SESSION_COOKIE];
    const found = cookie === undefined ? undefined : await sessions.lookup(cookie);
    return found && principalOf(found.user, 'session');
  }

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (config.public === true && !request.is404) return;
    const principal = await authenticate(request);
    if (principal === undefined) {
      throw new ApiError(401, 'MOAT_ERR_UNAUTHENTICATED', 'sign in, or send an API token as Authorization: Bearer', undefined, {
        'www-authenticate': 'Bearer realm="moat"',
      });
    }
    request.principal = principal;
    if (principal.via === 'session' && !SAFE_METHODS.has(request.method) && !sameOriginRequest(request)) {
      throw new ApiError(403, 'MOAT_ERR_CSRF', `a change made with the session cookie needs the ${CSRF_HEADER}: 1 header or this server's Origin`);
    }
    if (request.is404) return;
    const required = config.role ?? defaultRole(request.method);
    if (ROLE_RANK[principal.role] < ROLE_RANK[required]) {
      throw new ApiError(403, 'MOAT_ERR_FORBIDDEN', `this needs the ${required} role`, { required, role: principal.role });
    }
  });
}

/** Methods that change nothing, so a forged cross-site request gains nothing (CSRF). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The console sends it on every call; a cross-site form cannot set a custom header. */
export const CSRF_HEADER = 'x-moat-request';

/**
 * CSRF defence in depth for cookie-authenticated changes (the cookie is already
 * SameSite=Strict): the request must carry `X-Moat-Request: 1` (a custom header, which a
 * cross-site form or a "simple" fetch cannot send) or an `Origin` equal to this server's own.
 * Bearer tokens are not sent automatically by browsers, so they need neither.
 */
function sameOriginRequest(request: FastifyRequest): boolean {
  if (request.headers[CSRF_HEADER] === '1') return true;
  const origin = request.headers.origin;
  return origin !== undefined && origin === `${request.protocol}://${request.host}`;
}

export function defaultRole(method: string): Role {
  return method === 'GET' || method === 'HEAD' ? 'auditor' : 'admin';
}

function principalOf(user: User, via: string): Principal {
  return { userId: user.id, username: user.username, role: user.role, via };
}

export default fp(auth, { name: 'moat-auth', fastify: '5.x', dependencies: ['@fastify/cookie', 'moat-services', 'moat-errors'] });
