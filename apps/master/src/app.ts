import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import { MAX_FRAME_BYTES } from '@moat/protocol';
import type { AppDeps } from './app-deps.ts';
import authPlugin from './plugins/auth.ts';
import { consoleRoutes } from './plugins/console.ts';
import errorsPlugin from './plugins/errors.ts';
import finiteNumbersPlugin from './plugins/finite-numbers.ts';
import metricsPlugin from './plugins/metrics.ts';
import openapiPlugin from './plugins/openapi.ts';
import routeTablePlugin from './plugins/route-table.ts';
import { responseHeadersPlugin } from './plugins/response-headers.ts';
import { requestLogPlugin } from './plugins/request-log.ts';
import { toErrorReply } from './http/error-reply.ts';
import { clientErrorHandler } from './http/client-error.ts';
import servicesPlugin from './plugins/services.ts';
import { apiV1Routes } from './routes/api-v1.ts';
import { systemRoutes } from './routes/system/system-routes.ts';

export interface BuildAppOptions {
  /**
   * Registered at the root after the core plugins and routes, in order (the cluster hub's
   * `/cluster` WebSocket route, the data routes, the console). They see `app.deps`,
   * `app.services`, `app.metrics`, and the auth hook applies to their routes: declare
   * `config: { role }` or `config: { public: true }` (the /cluster link authenticates inside).
   */
  readonly extraPlugins?: readonly FastifyPluginAsync[];
  /** Prometheus registry to use (default: a new one with the default process metrics). */
  readonly metricsRegistry?: Registry;
  /** The built console (default: apps/console/dist); without a build, `/` says how to build it. */
  readonly consoleDir?: string;
}

/**
 * The master's HTTP app: external plugins, then Moat's app plugins, then routes, then the
 * extra plugins. Returns the app ready (plugins loaded, routes final); the caller listens.
 */
export async function buildApp(deps: AppDeps, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { http } = deps.config;
  const app = Fastify({
    loggerInstance: deps.log,
    // plugins/request-log.ts logs one line per request, reads that succeed at debug.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: http.trustProxy,
    ...(http.tls && { https: { cert: readFileSync(http.tls.cert), key: readFileSync(http.tls.key) } }),
    // Unknown keys are errors (not silently dropped), and every problem is reported at once.
    ajv: { customOptions: { removeAdditional: false, allErrors: true } },
    // Errors the router raises before any hook (a path with broken %-encoding: FST_ERR_BAD_URL)
    // get the same `{ error, code }` answer as everything else instead of fastify's own shape,
    // which echoed the URL. Found by fuzzing (test/fuzz/api.test.ts).
    clientErrorHandler,
    frameworkErrors: (err, request, reply) => {
      const answer = toErrorReply(err, String(request.id));
      void (reply as FastifyReply).code(answer.status).headers(answer.headers).send(answer.body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(routeTablePlugin);
  await app.register(requestLogPlugin);
  await app.register(responseHeadersPlugin);
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } });
  await app.register(servicesPlugin, { deps });
  await app.register(errorsPlugin);
  await app.register(finiteNumbersPlugin);
  await app.register(metricsPlugin, options.metricsRegistry ? { registry: options.metricsRegistry } : {});
  await app.register(authPlugin);
  await app.register(openapiPlugin);

  await app.register(systemRoutes);
  await app.register(consoleRoutes(options.consoleDir));
  await app.register(apiV1Routes, { prefix: '/api/v1' });
  for (const plugin of options.extraPlugins ?? []) await app.register(plugin);

  await app.ready();
  return app as unknown as FastifyInstance;
}
