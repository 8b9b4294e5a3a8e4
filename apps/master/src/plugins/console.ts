import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { notFound } from '../http/api-error.ts';

/** Where `pnpm build` writes the console (apps/console/dist), relative to this file. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

/**
 * The console's own pages may not run inline script or style, load anything from elsewhere, or
 * be framed. A quarantined message's HTML is shown in a sandboxed `srcdoc` frame, which inherits
 * this policy: no script, no remote image, no remote style even if the sanitiser missed one.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

const NOT_BUILT = Buffer.from(
  '<!doctype html><meta charset="utf-8"><title>Moat</title><p>The admin console is not built. Run <code>pnpm build</code> (or <code>bash scripts/setup.sh</code>) and restart the master. The REST API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p>',
);

/** Reads the built files once at start: they are a few small files, and a lookup by name cannot escape the folder. */
function loadAssets(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const assets = join(dir, 'assets');
  if (!existsSync(assets)) return files;
  for (const name of readdirSync(assets)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) files.set(name, { body: readFileSync(join(assets, name)), type });
  }
  return files;
}

function secure(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    // Unversioned file names: the browser revalidates, so a new build shows at once.
    .header('cache-control', 'no-cache');
}

/**
 * The admin console at `/` (a single page; its routes are in the URL fragment) and its files
 * under `/assets/`. These are public so the sign-in page can load: they hold no data, and the
 * console gets everything through the REST API, which needs a session like any other caller.
 */
export function consoleRoutes(dir: string = DEFAULT_CONSOLE_DIR) {
  return async function consolePlugin(app: FastifyInstance): Promise<void> {
    const indexPath = join(dir, 'index.html');
    const index = existsSync(indexPath) ? readFileSync(indexPath) : NOT_BUILT;
    const assets = loadAssets(dir);
    const hide = { hide: true };

    app.get('/', { config: { public: true }, schema: hide }, async (_request, reply) => secure(reply, TYPES['.html']!).send(index));

    app.get<{ Params: { file: string } }>('/assets/:file', { config: { public: true }, schema: hide }, async (request, reply) => {
      const file = assets.get(request.params.file);
      if (file === undefined) throw notFound(`file ${request.params.file}`);
      return secure(reply, file.type).send(file.body);
    });
  };
}
