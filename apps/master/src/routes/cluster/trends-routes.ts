import { Type } from 'typebox';
import type { ClusterHub } from '../../cluster/hub.ts';
import { sumThroughput, TREND_HISTORY_MS, type Throughput } from '../../cluster/node-trends.ts';
import { errorResponses, iso } from '../../http/schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';

const HISTORY_MINUTES = TREND_HISTORY_MS / 60_000;

const Rate = Type.Number({ minimum: 0, description: 'Messages a second.' });
const ThroughputSchema = Type.Union([
  Type.Object({
    deliver: Rate, tag: Rate, quarantine: Rate, reject: Rate, total: Rate,
    seconds: Type.Number({ description: 'The time the figure really spans: the window, or less while the master has heard less of the node.' }),
  }),
  Type.Null(),
], { description: 'Messages received (DATA) a second by verdict over the window. Null with nothing to measure: a scanner before protocol 6 (no counters), a single heartbeat so far, none within the window, or the node offline.' });

const TrendsSchema = Type.Object({
  at: Type.String({ format: 'date-time', description: 'The master\'s time of this answer.' }),
  windowSeconds: Type.Integer(),
  stepSeconds: Type.Number({ description: 'Samples are at least this far apart, two heartbeats (the last is the newest heartbeat).' }),
  cluster: Type.Object({ throughput: ThroughputSchema }, { description: 'Every node\'s throughput added.' }),
  nodes: Type.Array(Type.Object({
    id: Type.String(),
    name: Type.String(),
    online: Type.Boolean(),
    throughput: ThroughputSchema,
    disk: Type.Union([
      Type.Object({
        reportedAt: Type.String({ format: 'date-time' }),
        quarantineBytes: Type.Integer(), quarantineMaxBytes: Type.Integer({ description: 'quarantine.maxBytes (0: no budget).' }),
        retainedBytes: Type.Integer(), retainedMaxBytes: Type.Optional(Type.Integer({ description: 'retention.maxBytes; absent while retention is off.' })),
      }),
      Type.Null(),
    ], { description: 'Its budgeted stores\' disk use from its last heartbeat (null before one of protocol 6).' }),
    samples: Type.Array(Type.Object({
      at: Type.String({ format: 'date-time', description: 'When the heartbeat arrived.' }),
      queueDepth: Type.Integer({ description: 'Messages in its relay queue.' }),
      outboxBacklog: Type.Integer({ description: 'Events not yet delivered to the master.' }),
      quarantineBytes: Type.Optional(Type.Integer()),
      retainedBytes: Type.Optional(Type.Integer()),
    }), { description: 'Its heartbeats over the last `minutes`, oldest first.' }),
  })),
});

const view = (t: Throughput | null) => (t === null ? null : { ...t.perSecond, seconds: t.seconds });

/**
 * What the dashboard draws of now: throughput by verdict, and the last hour of each node's relay
 * queue, outbox and disk use, from the heartbeats the master keeps in memory (cluster/node-trends.ts).
 */
export function registerTrendRoutes(app: TypedApp, hub: ClusterHub, now: () => number): void {
  app.get(
    '/nodes/trends',
    {
      schema: {
        summary: 'Throughput now, and each node\'s queue, outbox and disk use over the last hour',
        description: `From the scanners' heartbeats, kept by the master in memory for ${HISTORY_MINUTES} minutes (empty after a master restart until they come again; the hourly roll-ups of GET /reports/traffic keep the long view).`,
        tags: ['cluster'],
        querystring: Type.Object({
          minutes: Type.Integer({ minimum: 1, maximum: HISTORY_MINUTES, default: HISTORY_MINUTES, description: 'How much of the history to answer.' }),
          windowSeconds: Type.Integer({ minimum: 10, maximum: 600, default: 60, description: 'The throughput\'s window.' }),
        }),
        response: { 200: TrendsSchema, ...errorResponses(400) },
      },
    },
    async (request) => {
      const { minutes, windowSeconds } = request.query;
      const t = now();
      const nodes = (await hub.nodes()).map((n) => {
        // An offline node does nothing now, whatever it did in the window before it went.
        const rate = n.online ? hub.trends.throughput(n.id, windowSeconds * 1000, t) : null;
        const last = hub.trends.latest(n.id);
        return {
          node: {
            id: n.id, name: n.name, online: n.online, throughput: view(rate),
            disk: last?.disk ? { reportedAt: iso(last.at), ...last.disk } : null,
            samples: hub.trends.samples(n.id, t - minutes * 60_000).map((s) => ({
              at: iso(s.at), queueDepth: s.queueDepth, outboxBacklog: s.outboxBacklog,
              ...(s.disk ? { quarantineBytes: s.disk.quarantineBytes, retainedBytes: s.disk.retainedBytes } : {}),
            })),
          },
          rate,
        };
      });
      return {
        at: iso(t), windowSeconds, stepSeconds: hub.trends.stepMs / 1000,
        cluster: { throughput: view(sumThroughput(nodes.map((n) => n.rate))) },
        nodes: nodes.map((n) => n.node),
      };
    },
  );
}
