import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../app-deps.ts';
import '../http/fastify-types.ts';

export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly public: boolean;
  readonly role: Role | undefined;
}

/**
 * Records every route as it is registered, so a test can prove that every route outside the
 * public few refuses anonymous callers, including routes added later.
 */
async function routeTable(app: FastifyInstance): Promise<void> {
  const table: RouteInfo[] = [];
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      table.push({ method, url: route.url, public: route.config?.public === true, role: route.config?.role });
    }
  });
}

export default fp(routeTable, { name: 'moat-route-table', fastify: '5.x' });
