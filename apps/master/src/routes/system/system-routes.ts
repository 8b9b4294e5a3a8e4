import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../../http/schemas.ts';

/** Routes outside /api/v1: the load-balancer probe, Prometheus, and the console's placeholder. */
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

  app.get(
    '/',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Where the admin console will be',
        tags: ['system'],
        response: {
          200: Type.Object({
            name: Type.String(),
            console: Type.String({ description: 'State of the web console.' }),
            api: Type.String({ description: 'Base path of the REST API.' }),
            docs: Type.String({ description: 'Interactive API documentation.' }),
          }),
          ...errorResponses(),
        },
      },
    },
    async () => ({ name: 'Moat master', console: 'not built yet', api: '/api/v1/', docs: '/api/v1/docs' }),
  );
};
