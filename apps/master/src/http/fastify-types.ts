import type { AppDeps, Principal, Role } from '../app-deps.ts';
import type { Services } from '../plugins/services.ts';
import type { Metrics } from '../plugins/metrics.ts';
import type { RouteInfo } from '../plugins/route-table.ts';

/** What Moat adds to fastify's types: route config for auth, and the decorators below. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Minimum role for this route. Default: auditor for GET/HEAD, admin for everything else. */
    role?: Role;
    /** No user authentication: only /healthz, the login route, the /cluster link and /cluster/peer (which check their own credentials). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Who is calling; set by the auth hook, null only on public routes. */
    principal: Principal | null;
    /** Write an audit entry as this request's principal, from its address. */
    audit(action: string, target: string, details?: Record<string, unknown>): Promise<void>;
  }
  interface FastifyInstance {
    readonly deps: AppDeps;
    readonly services: Services;
    readonly metrics: Metrics;
    /** Every route registered, with its auth settings (for tests and docs). */
    readonly routeTable: readonly RouteInfo[];
  }
}
