import { Type, type Static } from 'typebox';

/** The protocol version that added route health to the heartbeat (`routes`). */
export const ROUTES_PROTOCOL_VERSION = 4;

/** One route's last outcome on one scanner (apps/scanner/src/relay/router.ts). */
export const RouteHealthSchema = Type.Object(
  {
    route: Type.String({ maxLength: 253, description: 'The routed domain as in `routing.domains`, or `relay` for the scanner\'s own downstream (domains without a route).' }),
    state: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('loop')], { description: '`up`: the last attempt reached a server; `down`: no server took the last attempt (mail for it waits); `loop`: every server is this gateway (mail waits until the route is fixed).' }),
    host: Type.Optional(Type.String({ maxLength: 300, description: 'The server (host:port) of the last attempt that reached one.' })),
    error: Type.Optional(Type.String({ maxLength: 1000, description: 'The last failure.' })),
    at: Type.Integer({ minimum: 0, description: 'When the last attempt ended (ms since the epoch).' }),
    delivered: Type.Integer({ minimum: 0, description: 'Recipients delivered since the scanner started.' }),
    deferred: Type.Integer({ minimum: 0, description: 'Recipients deferred since the scanner started.' }),
  },
  { additionalProperties: false },
);
export type RouteHealth = Static<typeof RouteHealthSchema>;
export const MAX_REPORTED_ROUTES = 1001;
