import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app-deps.ts';
import { registerMessageRoutes } from './messages-routes.ts';
import { registerQuarantineRoutes } from './quarantine-routes.ts';
import { registerReportRoutes } from './reports-routes.ts';

/**
 * The message log, quarantine index and reports, read-only (GET: the auditor role suffices,
 * the auth hook's default). Register under /api/v1: paths here are relative to it.
 * Release, delete and the raw message go over the cluster link and live with the hub.
 */
export const dataRoutes: FastifyPluginAsync<{ deps: AppDeps }> = async (fastify, { deps }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  registerMessageRoutes(app, deps);
  registerQuarantineRoutes(app, deps);
  registerReportRoutes(app, deps);
};
