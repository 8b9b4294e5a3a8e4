import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyPluginAsync } from 'fastify';
import { startHarness } from '../../testing/harness.ts';
import { dataRoutes } from './index.ts';

/** Mounted in the real app: the auth hook covers every data route, and they appear in the OpenAPI document. */
const mount: FastifyPluginAsync = async (app) => {
  await app.register(dataRoutes, { prefix: '/api/v1', deps: app.deps });
};

const PATHS = ['/messages', `/messages/${'0'.repeat(16)}/${'A'.repeat(20)}`, '/quarantine', `/quarantine/${'A'.repeat(20)}`, '/reports/traffic', '/reports/top/sender', '/reports/top/virus', '/reports/top/dmarc_fail', '/reports/quarantine', '/reports/traffic?format=csv'];

test('in the master app: 401 without credentials, and an auditor may read everything', async (t) => {
  const h = await startHarness({ extraPlugins: [mount] });
  t.after(() => h.close());
  for (const path of PATHS) {
    const url = `/api/v1${path}`;
    assert.equal((await h.app.inject({ method: 'GET', url })).statusCode, 401, url);
    const res = await h.app.inject({ method: 'GET', url, headers: h.bearer.auditor });
    assert.ok(res.statusCode === 200 || res.statusCode === 404, `${url}: ${res.statusCode} ${res.body}`);
  }
  const doc = (await h.app.inject({ method: 'GET', url: '/api/v1/openapi.json', headers: h.bearer.auditor })).json();
  for (const path of ['/api/v1/messages', '/api/v1/messages/{nodeId}/{id}', '/api/v1/quarantine/{id}', '/api/v1/reports/top/{kind}']) assert.ok(doc.paths[path], path);
  assert.ok(doc.paths['/api/v1/reports/traffic'].get.responses['200'].content['text/csv'], 'CSV is documented');
});
