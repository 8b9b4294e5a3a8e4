import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, startHarness } from '../testing/harness.ts';

/** A change any signed-in user may make: it tells whether the CSRF check let the request through. */
const change = { method: 'POST' as const, url: '/api/v1/tokens', payload: { name: 'csrf probe' } };

test('a cookie-authenticated change without X-Moat-Request or a same-origin Origin is refused (403 MOAT_ERR_CSRF)', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { cookie } = await login(h.app, 'admin');
  for (const headers of [{ cookie }, { cookie, origin: 'https://evil.example' }, { cookie, 'x-moat-request': '0' }, { cookie, origin: 'null' }]) {
    const res = await h.app.inject({ ...change, headers });
    assert.equal(res.statusCode, 403, JSON.stringify(headers));
    assert.equal(res.json().code, 'MOAT_ERR_CSRF');
  }
  // Reads are not affected.
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie } })).statusCode, 200);
});

test('the custom header or the server\'s own Origin lets a cookie-authenticated change through', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { cookie } = await login(h.app, 'admin');
  assert.equal((await h.app.inject({ ...change, headers: { cookie, 'x-moat-request': '1' } })).statusCode, 201);
  // inject's Host is localhost:80.
  assert.equal((await h.app.inject({ ...change, headers: { cookie, origin: 'http://localhost:80' } })).statusCode, 201);
});

test('API tokens need no CSRF header (a browser never sends them on its own); login needs none', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  assert.equal((await h.app.inject({ ...change, headers: h.bearer.admin })).statusCode, 201);
  const res = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'auditor', password: 'correct horse battery' } });
  assert.equal(res.statusCode, 200);
});
