import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

/**
 * One `HTTP_REQUEST` line per answered request, instead of fastify's two ("incoming request",
 * "request completed") at info. Reads that succeed are debug: the console refreshes its
 * dashboard every 10 s, and a line per poll would bury what matters. Changes and refusals (4xx)
 * stay at info, 5xx answers are warn (the error itself is logged where it happened; a 503 for
 * an offline node is an answer, not a fault). The route pattern is logged, not the URL, so query
 * strings and tokens in paths stay out of the log.
 */
async function requestLog(app: FastifyInstance): Promise<void> {
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const read = request.method === 'GET' || request.method === 'HEAD';
    const level = status >= 500 ? 'warn' : read && status < 400 ? 'debug' : 'info';
    request.log[level]({ event: 'HTTP_REQUEST', method: request.method, route: request.routeOptions.url ?? '(no route)', statusCode: status, ms: Math.round(reply.elapsedTime) }, 'request');
  });
}

export const requestLogPlugin = fp(requestLog, { name: 'moat-request-log' });
