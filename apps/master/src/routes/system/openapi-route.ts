import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/schemas.ts';

/** The generated OpenAPI document (registered under /api/v1). */
export const openapiRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/openapi.json',
    {
      config: { role: 'auditor' },
      schema: { summary: 'The OpenAPI 3.1 document of this API', tags: ['system'], response: errorResponses() },
    },
    async () => app.swagger(),
  );
};
