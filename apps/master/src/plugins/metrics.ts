import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import '../http/fastify-types.ts';

/**
 * Prometheus metrics in a Registry of the app's own (never prom-client's global one, so two
 * apps in one process, as in tests, do not collide). Other plugins (the cluster hub) add their
 * gauges to `app.metrics.registry`.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(registry: Registry = new Registry()): Metrics {
  if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'moat_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'moat_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

async function metrics(app: FastifyInstance, options: { registry?: Registry }): Promise<void> {
  const m = createMetrics(options.registry);
  app.decorate('metrics', m);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: unknown paths must not create label values.
    const labels = { method: request.method, route: request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched'), status: String(reply.statusCode) };
    m.httpRequests.inc(labels);
    m.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
}

export default fp(metrics, { name: 'moat-metrics', fastify: '5.x' });
