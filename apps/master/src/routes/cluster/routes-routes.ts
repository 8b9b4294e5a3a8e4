import { Type } from 'typebox';
import { RouteHealthSchema } from '@moat/protocol';
import { RouteSchema, type Rules } from '@moat/rules';
import type { ClusterHub } from '../../cluster/hub.ts';
import { errorResponses, iso } from '../../http/schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';

const NodeRouteSchema = Type.Object({
  ...RouteHealthSchema.properties,
  at: Type.String({ format: 'date-time', description: 'When the last attempt on this route ended.' }),
});
const RouteViewSchema = Type.Object({
  route: Type.String({ description: 'The routed domain, or `relay`: each scanner\'s own downstream (its config file), for domains without a route.' }),
  settings: Type.Union([RouteSchema, Type.Null()], { description: 'The route as in the current rules (`routing.domains`); null for `relay`.' }),
  nodes: Type.Array(
    Type.Object({
      nodeId: Type.String(),
      name: Type.String(),
      online: Type.Boolean(),
      reportedAt: Type.String({ format: 'date-time', description: 'When its heartbeat carrying this arrived.' }),
      last: Type.Union([NodeRouteSchema, Type.Null()], { description: 'The node\'s last outcome on the route; null when it has sent nothing that way since it started.' }),
    }),
  ),
});

/** Per-domain routes (rules) with each node's last outcome on each (heartbeats, memory only). */
export function registerRoutesRoutes(app: TypedApp, hub: ClusterHub, rules: () => Promise<Rules | undefined>): void {
  app.get(
    '/routes',
    {
      schema: {
        summary: 'Delivery routes and their health on each node',
        description: 'Every route of the current rules (`routing.domains`) and `relay` (each scanner\'s own downstream, for domains without a route), with each online or known node\'s last outcome on it: '
          + '`up` (the last attempt reached a server: `host`), `down` (no server took it: mail for the route waits, `error` says why) or `loop` (every server is the gateway itself). '
          + 'From the nodes\' heartbeats (protocol 4; kept in memory: empty after a master restart until the next heartbeats).',
        tags: ['cluster'],
        response: { 200: Type.Object({ items: Type.Array(RouteViewSchema) }), ...errorResponses() },
      },
    },
    async () => {
      const routes = (await rules())?.routing?.domains ?? [];
      const nodes = (await hub.nodes()).map((n) => ({ n, health: hub.routeHealth(n.id) }));
      const view = (route: string, settings: (typeof routes)[number] | null) => ({
        route,
        settings,
        nodes: nodes.filter(({ health }) => health !== undefined).map(({ n, health }) => {
          const last = health!.routes.find((r) => r.route === route);
          return { nodeId: n.id, name: n.name, online: n.online, reportedAt: iso(health!.at), last: last ? { ...last, at: iso(last.at) } : null };
        }),
      });
      return { items: [...routes.map((r) => view(r.domain, r)), view('relay', null)] };
    },
  );
}
