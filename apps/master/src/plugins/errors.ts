import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../http/api-error.ts';
import { toErrorReply } from '../http/error-reply.ts';

/** Every error and every unknown route answers `{ error, code, details }` (see http/error-reply.ts). */
async function errors(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err, request, reply) => {
    const answer = toErrorReply(err, String(request.id));
    if (answer.serverFault) request.log.error({ event: 'HTTP_ERROR', err }, 'request failed');
    else if (answer.status >= 500) request.log.warn({ event: 'HTTP_NODE_ERROR', code: answer.body.code, details: answer.body.details }, answer.body.error);
    else request.log.info({ event: 'HTTP_CLIENT_ERROR', status: answer.status, code: answer.body.code }, 'request refused');
    reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.setNotFoundHandler(() => {
    throw new ApiError(404, 'MOAT_ERR_NOT_FOUND', 'no such route');
  });
}

export default fp(errors, { name: 'moat-errors', fastify: '5.x' });
