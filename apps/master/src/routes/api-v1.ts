import type { FastifyPluginAsync } from 'fastify';
import { auditRoutes } from './audit/audit-routes.ts';
import { authRoutes } from './auth/auth-routes.ts';
import { rulesRoutes } from './rules/rules-routes.ts';
import { recipientListsRoutes } from './recipient-lists/recipient-lists-routes.ts';
import { openapiRoute } from './system/openapi-route.ts';
import { tokensRoutes } from './tokens/tokens-routes.ts';
import { usersRoutes } from './users/users-routes.ts';

/** The REST API's own routes; app.ts registers this under the /api/v1 prefix. */
export const apiV1Routes: FastifyPluginAsync = async (app) => {
  await app.register(authRoutes);
  await app.register(usersRoutes);
  await app.register(tokensRoutes);
  await app.register(auditRoutes);
  await app.register(rulesRoutes);
  await app.register(recipientListsRoutes);
  await app.register(openapiRoute);
};
