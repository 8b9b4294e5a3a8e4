import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../../http/schemas.ts';

/** Routes outside /api/v1: the load-balancer probe, and Prometheus (the console at `/` is plugins/console.ts). */
export const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        summary: 'Liveness probe for load balancers',
        description: 'No authentication. Answers as long as the process serves HTTP.',
        tags: ['system'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok', { description: 'Always `ok`.' }) }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/metrics',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Requires authentication like everything else: give Prometheus an API token of an auditor account (`authorization: { type: Bearer, credentials: moat_... }` in the scrape config).',
        tags: ['system'],
        response: errorResponses(),
      },
    },
    async (_request, reply) => {
      const { registry } = app.metrics;
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );
};
