import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

/** Everything but the console's own page and files: API answers (JSON, CSV, `.eml`), `/metrics`, the end users' `/user/` pages. */
const DATA_PATHS = /^\/(api|user|metrics)(\/|$|\?)/;

/**
 * Answers that carry data are never sniffed into another type by a browser (an `.eml` whose
 * body looks like HTML must not render as a page of this origin) and never stored by a browser
 * or a proxy cache (quarantined mail, audit entries and tokens stay off shared disks). Set at
 * onRequest, so error answers (401, 403, 404) carry them too; a route may still set its own
 * Cache-Control. The console's static files have their own (plugins/console.ts).
 */
async function responseHeaders(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', async (request, reply) => {
    if (!DATA_PATHS.test(request.url)) return;
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
  });
}

export const responseHeadersPlugin = fp(responseHeaders, { name: 'moat-response-headers' });
