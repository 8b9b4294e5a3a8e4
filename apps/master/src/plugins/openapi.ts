import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { SESSION_COOKIE } from '../auth/session-cookie.ts';

/**
 * The OpenAPI document is generated from the route schemas (so it cannot drift from what
 * the API validates). Served at /api/v1/openapi.json and browsable at /api/v1/docs, both
 * behind authentication like the rest of the API. Must be registered before the routes.
 */
async function openapi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Moat master API',
        version: '1',
        description:
          'REST API of the Moat master. Every route needs a console session (cookie `moat_session`, from POST /api/v1/auth/login) or an API token (`Authorization: Bearer moat_<id>_<secret>`), except /healthz and the login itself. Errors are `{ error, code, details }` with a stable `MOAT_ERR_*` code.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Console session, set by POST /api/v1/auth/login.' },
          token: { type: 'http', scheme: 'bearer', description: 'API token `moat_<id>_<secret>` from POST /api/v1/tokens.' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs' });
}

export default fp(openapi, { name: 'moat-openapi', fastify: '5.x' });
