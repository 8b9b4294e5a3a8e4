import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { startTestMaster, ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import { selfSignedCert } from '../helpers/tls-cert.ts';

// Security review (issue 18): the session cookie's Secure flag followed auth.secureCookie
// alone (default off), even on a master serving HTTPS; API answers had neither nosniff nor
// no-store.

/** A login over HTTPS to a master with a self-signed certificate (trusted here as its own CA). */
function httpsLogin(port: number, ca: string): Promise<{ status: number; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/auth/login', method: 'POST', ca, servername: 'localhost', checkServerIdentity: () => undefined, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }));
  });
}

test('a master serving TLS sets a Secure session cookie without being told; over plain HTTP (loopback) it does not', async () => {
  const tls = selfSignedCert('localhost');
  const secure = await startTestMaster({ tls: { cert: tls.cert, key: tls.key } });
  const plain = await startTestMaster();
  try {
    const over = await httpsLogin(secure.port, readFileSync(tls.cert, 'utf8'));
    assert.equal(over.status, 200);
    const cookie = over.setCookie.find((c) => c.startsWith('moat_session='));
    assert.ok(cookie, over.setCookie.join(' | '));
    assert.match(cookie, /; Secure/);

    const login = await fetch(`${plain.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    assert.equal(login.status, 200);
    assert.doesNotMatch(login.headers.get('set-cookie') ?? '', /Secure/);
  } finally {
    await secure.close();
    await plain.close();
    tls.cleanup();
  }
});

test('API answers, errors included, carry nosniff and no-store; the console page keeps its own caching', async () => {
  const master = await startTestMaster();
  try {
    const login = await fetch(`${master.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    for (const [what, res] of [
      ['a JSON answer', await fetch(`${master.url}/api/v1/rules`, { headers: { cookie } })],
      ['a CSV export', await fetch(`${master.url}/api/v1/reports/traffic?format=csv`, { headers: { cookie } })],
      ['a 401', await fetch(`${master.url}/api/v1/rules`)],
      ['a 404 under /api', await fetch(`${master.url}/api/v1/nothing-here`, { headers: { cookie } })],
      ['metrics', await fetch(`${master.url}/metrics`, { headers: { cookie } })],
      ['an end-user page', await fetch(`${master.url}/user/`)],
    ] as const) {
      if (what === 'a CSV export') assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
      assert.equal(res.headers.get('cache-control'), 'no-store', `${what} (${res.status})`);
    }
    const page = await fetch(`${master.url}/`);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
  } finally {
    await master.close();
  }
});
