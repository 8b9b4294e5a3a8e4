import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import pino from 'pino';
import WebSocket from 'ws';
import { NodeOfflineError, NodeRequestError } from './app-deps.ts';
import { login, startHarness } from './testing/harness.ts';

/**
 * The only routes anyone may call without credentials. The console's page and its static files
 * (`/`, `/assets/:file`) are public so the sign-in page can load; they hold no data, and every
 * API call the console makes needs a session. `/cluster` and `/cluster/peer` are public to the
 * auth hook only: a scanner proves itself inside the link, another master with the masters'
 * secret before the body is read (cluster/peer-route.ts; test/e2e/master-postgres).
 */
const PUBLIC_ALLOWED = new Set([
  'GET /healthz', 'HEAD /healthz', 'POST /api/v1/auth/login', 'GET /cluster', 'HEAD /cluster', 'POST /cluster/peer',
  'GET /', 'HEAD /', 'GET /assets/:file', 'HEAD /assets/:file',
]);

/** A concrete URL for a route pattern: `:id` → 1, `*` → x. */
const concrete = (url: string): string => url.replace(/:[A-Za-z]+/g, '1').replace(/\*/g, 'x');

test('/healthz answers without authentication', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
});

test('every route except the public few refuses a request without a session or token', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const routes = h.app.routeTable;
  assert.ok(routes.length > 20, 'the route table is collected');
  for (const route of routes) {
    const key = `${route.method} ${route.url}`;
    if (route.public) {
      assert.ok(PUBLIC_ALLOWED.has(key), `${key} is public but not on the allowed list`);
      continue;
    }
    for (const headers of [{}, { authorization: 'Bearer moat_0000000000000000_bogus' }, { cookie: 'moat_session=forged' }]) {
      const res = await h.app.inject({ method: route.method as 'GET', url: concrete(route.url), headers, payload: route.method === 'GET' || route.method === 'HEAD' ? undefined : {} });
      assert.equal(res.statusCode, 401, `${key} with ${JSON.stringify(headers)}`);
      if (route.method !== 'HEAD') assert.equal(res.json().code, 'MOAT_ERR_UNAUTHENTICATED', key);
    }
  }
  // Every /api/v1 route is covered, however it was added.
  assert.ok(routes.some((r) => r.url === '/api/v1/rules' && r.method === 'PUT'));
  assert.ok(routes.some((r) => r.url.startsWith('/api/v1/docs')));
});

test('routes added through extraPlugins are covered by the same auth and role checks', async (t) => {
  const extra: FastifyPluginAsync = async (app) => {
    app.get('/api/v1/extra', { config: { role: 'operator' } }, async () => ({ ok: true }));
    app.post('/api/v1/extra', async () => ({ ok: true }));
  };
  const h = await startHarness({ extraPlugins: [extra] });
  t.after(() => h.close());
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/extra' })).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/extra', headers: h.bearer.auditor })).statusCode, 403);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/extra', headers: h.bearer.operator })).statusCode, 200);
  // No declared role on a POST: admin only.
  assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/extra', headers: h.bearer.operator })).statusCode, 403);
  assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/extra', headers: h.bearer.admin })).statusCode, 200);
});

test('unknown routes: 401 without credentials (nothing to probe), 404 JSON with', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/nope' })).statusCode, 401);
  const res = await h.app.inject({ method: 'DELETE', url: '/api/v1/nope', headers: h.bearer.auditor });
  assert.equal(res.statusCode, 404);
  assert.deepEqual(res.json(), { error: 'no such route', code: 'MOAT_ERR_NOT_FOUND' });
});

test('errors from the cluster map to 503 / 502; anything else is a 500 whose text stays in the log', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const extra: FastifyPluginAsync = async (app) => {
    app.get('/t/offline', async () => {
      throw new NodeOfflineError('scanner-2');
    });
    app.get('/t/failed', async () => {
      throw new NodeRequestError('scanner-1', 'MOAT_ERR_TIMEOUT', 'no answer within 15 s');
    });
    app.get('/t/bug', async () => {
      throw new Error('SQLITE_CORRUPT at /secret/path');
    });
  };
  const h = await startHarness({ extraPlugins: [extra], log: pino({ level: 'info' }, sink) });
  t.after(() => h.close());
  const offline = await h.app.inject({ method: 'GET', url: '/t/offline', headers: h.bearer.auditor });
  assert.equal(offline.statusCode, 503);
  assert.equal(offline.json().code, 'MOAT_ERR_NODE_OFFLINE');
  assert.deepEqual(offline.json().details, { node: 'scanner-2' });
  const failed = await h.app.inject({ method: 'GET', url: '/t/failed', headers: h.bearer.auditor });
  assert.equal(failed.statusCode, 502);
  assert.deepEqual(failed.json(), { error: 'node scanner-1: no answer within 15 s', code: 'MOAT_ERR_TIMEOUT', details: { node: 'scanner-1' } });
  const bug = await h.app.inject({ method: 'GET', url: '/t/bug', headers: h.bearer.auditor });
  assert.equal(bug.statusCode, 500);
  assert.equal(bug.json().error, 'Internal Server Error');
  assert.equal(bug.json().code, 'MOAT_ERR_INTERNAL');
  assert.doesNotMatch(bug.body, /SQLITE|secret/);
  assert.ok(lines.some((line) => line.includes('SQLITE_CORRUPT') && line.includes('HTTP_ERROR')), 'the real error is logged');
});

test('validation errors are 400 MOAT_ERR_VALIDATION naming each field', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', extra: 1 } });
  assert.equal(res.statusCode, 400);
  assert.deepEqual(res.json(), {
    error: 'Bad Request',
    code: 'MOAT_ERR_VALIDATION',
    details: [
      { field: 'body.password', message: 'required key is missing' },
      { field: 'body.extra', message: 'unknown key' },
    ],
  });
  const bad = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{not json' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'MOAT_ERR_BAD_REQUEST');
  const text = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/xml' }, payload: '<admin/>' });
  assert.equal(text.statusCode, 415);
  assert.equal(text.json().code, 'MOAT_ERR_UNSUPPORTED_MEDIA_TYPE');
  const query = await h.app.inject({ method: 'GET', url: '/api/v1/audit?limit=100000', headers: h.bearer.auditor });
  assert.equal(query.statusCode, 400);
  assert.equal(query.json().details[0].field, 'query.limit');
});

test('/metrics needs a session or token and returns Prometheus text', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  assert.equal((await h.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
  await h.app.inject({ method: 'GET', url: '/healthz' });
  const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: h.bearer.auditor });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(res.body, /^moat_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
  assert.match(res.body, /^moat_http_requests_total\{method="GET",route="\/metrics",status="401"\} 1$/m);
  assert.match(res.body, /^# TYPE moat_http_request_duration_seconds histogram$/m);
  assert.match(res.body, /^process_cpu_user_seconds_total /m);
  const cookie = await login(h.app, 'auditor');
  assert.equal((await h.app.inject({ method: 'GET', url: '/metrics', headers: cookie })).statusCode, 200);
});

test('the OpenAPI document lists every API route, with the auth schemes; docs are behind auth', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/docs' })).statusCode, 401);
  const res = await h.app.inject({ method: 'GET', url: '/api/v1/openapi.json', headers: h.bearer.auditor });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['session', 'token']);
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, object>)) {
    for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
  }
  const apiRoutes = h.app.routeTable.filter((r) => r.url.startsWith('/api/v1/') && !r.url.startsWith('/api/v1/docs') && r.method !== 'HEAD');
  for (const r of apiRoutes) assert.ok(documented.has(`${r.method} ${r.url}`), `${r.method} ${r.url} is in the OpenAPI document`);
  assert.equal(doc.paths['/api/v1/rules'].put.requestBody.content['application/json'].schema.properties.content.type, 'array');
  assert.deepEqual(doc.paths['/healthz'].get.security, []);
  const ui = await h.app.inject({ method: 'GET', url: '/api/v1/docs', headers: h.bearer.auditor });
  assert.equal(ui.statusCode, 200);
  assert.match(ui.body, /swagger/i);
});

test('on a real socket: health, sign in with the cookie, and a WebSocket route behind the same auth', async (t) => {
  const extra: FastifyPluginAsync = async (app) => {
    app.get('/ws-probe', { websocket: true, config: { role: 'auditor' } }, (socket) => socket.send('hello'));
  };
  const h = await startHarness({ extraPlugins: [extra] });
  t.after(() => h.close());
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = h.app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
  assert.equal((await fetch(`${base}/api/v1/auth/me`)).status, 401);
  const signIn = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'operator', password: 'correct horse battery' }),
  });
  assert.equal(signIn.status, 200);
  const setCookie = signIn.headers.getSetCookie()[0] ?? '';
  assert.match(setCookie, /^moat_session=[A-Za-z0-9_-]{43}; /);
  const me = await fetch(`${base}/api/v1/auth/me`, { headers: { cookie: setCookie.split(';')[0] ?? '' } });
  assert.deepEqual(await me.json(), { userId: 2, username: 'operator', role: 'operator', via: 'session' });

  // The upgrade is refused before the handshake without credentials…
  const refused = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws-probe`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('opened without credentials')));
    ws.on('error', () => undefined);
  });
  assert.equal(refused, 401);
  // …and accepted with a token.
  const greeting = await new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws-probe`, { headers: h.bearer.auditor });
    ws.on('message', (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.on('error', reject);
  });
  assert.equal(greeting, 'hello');
});

test('refusals from below the routes keep the { error, code } shape (found by fuzzing)', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = h.app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  // Broken %-encoding in the path: fastify's router refuses it before any hook.
  const badUrl = await fetch(`${base}/api/v1/users/%E0%80%AF`, { headers: h.bearer.admin });
  assert.equal(badUrl.status, 400);
  assert.equal(((await badUrl.json()) as { code: string }).code, 'MOAT_ERR_BAD_REQUEST');
  // Headers over Node's limit: refused by the HTTP parser, before fastify.
  const huge = await fetch(`${base}/api/v1/nodes?q=${'x'.repeat(70_000)}`, { headers: h.bearer.admin });
  assert.equal(huge.status, 431);
  assert.equal(((await huge.json()) as { code: string }).code, 'MOAT_ERR_HEADERS_TOO_LARGE');
});
