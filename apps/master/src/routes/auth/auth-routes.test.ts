import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { login, PASSWORD, startHarness } from '../../testing/harness.ts';

const loginAs = (username: string, password: string, ip = '127.0.0.1') => ({
  method: 'POST' as const,
  url: '/api/v1/auth/login',
  payload: { username, password },
  remoteAddress: ip,
});

test('login sets an HttpOnly, SameSite=Strict session cookie and returns the principal', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const res = await h.app.inject(loginAs('Admin', PASSWORD));
  assert.equal(res.statusCode, 200);
  const expiresAt = new Date(h.clock.t + 12 * 3_600_000).toISOString();
  assert.deepEqual(res.json(), { username: 'admin', role: 'admin', expiresAt });
  const cookie = res.cookies.find((c) => c.name === 'moat_session');
  assert.ok(cookie);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/');
  assert.equal(cookie.secure, undefined);
  assert.equal(new Date(String(cookie.expires)).toISOString(), expiresAt);
  const me = await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `moat_session=${cookie.value}` } });
  assert.deepEqual(me.json(), { userId: 3, username: 'admin', role: 'admin', via: 'session' });
  // The database holds the token's hash, not the token.
  const ids = h.deps.db.prepare('SELECT id FROM sessions').all() as { id: string }[];
  assert.equal(ids.length, 1);
  assert.notEqual(ids[0]?.id, cookie.value);
  const audit = await h.app.services.auditLog.list({ action: 'auth.login', limit: 10 });
  assert.equal(audit[0]?.username, 'admin');
});

test('the cookie is Secure when auth.secureCookie is set', async (t) => {
  const h = await startHarness({ config: { auth: { secureCookie: true } } });
  t.after(() => h.close());
  const res = await h.app.inject(loginAs('admin', PASSWORD));
  assert.equal(res.cookies[0]?.secure, true);
});

test('a wrong password or unknown user is 401, audited and logged without the password', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const h = await startHarness({ log: pino({ level: 'info' }, sink) });
  t.after(() => h.close());
  for (const [user, pw] of [['admin', 'not the password'], ['nobody', 'whatever!']] as const) {
    const res = await h.app.inject(loginAs(user, pw));
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { error: 'wrong user name or password', code: 'MOAT_ERR_BAD_CREDENTIALS' });
    assert.equal(res.cookies.length, 0);
  }
  const failed = await h.app.services.auditLog.list({ action: 'auth.login_failed', limit: 10 });
  assert.deepEqual(
    failed.map((e) => [e.username, e.ip, e.details['reason']]),
    [
      ['nobody', '127.0.0.1', 'unknown user'],
      ['admin', '127.0.0.1', 'wrong password'],
    ],
  );
  const rows = JSON.stringify(h.deps.db.prepare('SELECT * FROM audit').all());
  assert.doesNotMatch(rows, /not the password|whatever!/);
  const logged = lines.filter((line) => line.includes('AUTH_LOGIN_FAILED'));
  assert.equal(logged.length, 2);
  assert.doesNotMatch(lines.join(''), /not the password|whatever!/);
});

test('logins are limited per address, per user name and address, and per user name from everywhere (a known address exempt): 429 with Retry-After, even for the right password', async (t) => {
  // The rule of 13ed5b7: limit per client address and per name and address, limit × 10 per
  // name from addresses that never signed in to it.
  const h = await startHarness({ config: { auth: { loginAttemptsPerMinute: 3 } } });
  t.after(() => h.close());
  for (let i = 0; i < 3; i++) assert.equal((await h.app.inject(loginAs('admin', 'wrong password', '192.0.2.7'))).statusCode, 401);
  const limited = await h.app.inject(loginAs('admin', PASSWORD, '192.0.2.7'));
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().code, 'MOAT_ERR_RATE_LIMITED');
  assert.equal(limited.headers['retry-after'], '60');
  // That address is limited for every name (per client address)…
  assert.equal((await h.app.inject(loginAs('auditor', PASSWORD, '192.0.2.7'))).statusCode, 429);
  // …while the name still signs in from elsewhere: a few failures do not lock its owner out.
  assert.equal((await h.app.inject(loginAs('admin', PASSWORD, '198.51.100.1'))).statusCode, 200);
  // Many addresses guessing one name: after 3 × 10 failures it is limited from a new address,
  // but not from one that signed in to it before.
  for (let n = 1; n <= 9; n++) {
    for (let i = 0; i < 3; i++) assert.equal((await h.app.inject(loginAs('admin', 'wrong password', `203.0.113.${n}`))).statusCode, 401);
  }
  assert.equal((await h.app.inject(loginAs('admin', PASSWORD, '203.0.113.50'))).statusCode, 429);
  assert.equal((await h.app.inject(loginAs('admin', PASSWORD, '198.51.100.1'))).statusCode, 200);
  h.clock.t += 60_000;
  assert.equal((await h.app.inject(loginAs('admin', PASSWORD, '192.0.2.7'))).statusCode, 200);
  assert.equal((await h.app.inject(loginAs('admin', PASSWORD, '203.0.113.50'))).statusCode, 200);
});

test('a disabled user cannot sign in, and its sessions and tokens stop working', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const session = await login(h.app, 'operator');
  await h.app.services.users.update(2, { disabled: true });
  assert.equal((await h.app.inject(loginAs('operator', PASSWORD))).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: session })).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: h.bearer.operator })).statusCode, 401);
});

test('sessions expire after auth.sessionHours', async (t) => {
  const h = await startHarness({ config: { auth: { sessionHours: 1 } } });
  t.after(() => h.close());
  const session = await login(h.app, 'auditor');
  h.clock.t += 3_599_000;
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: session })).statusCode, 200);
  h.clock.t += 1000;
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: session })).statusCode, 401);
});

test('logout ends the session and clears the cookie', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const session = await login(h.app, 'auditor');
  const res = await h.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: session });
  assert.equal(res.statusCode, 204);
  const cleared = res.cookies.find((c) => c.name === 'moat_session');
  assert.equal(cleared?.value, '');
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: session })).statusCode, 401);
  assert.equal((await h.app.services.auditLog.list({ action: 'auth.logout', limit: 1 }))[0]?.username, 'auditor');
});

test('changing your own password needs the current one and ends your other sessions', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const first = await login(h.app, 'auditor');
  const second = await login(h.app, 'auditor');
  const wrong = await h.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: first, payload: { currentPassword: 'nope', newPassword: 'a brand new one' } });
  assert.equal(wrong.statusCode, 403);
  assert.equal(wrong.json().code, 'MOAT_ERR_BAD_CREDENTIALS');
  const ok = await h.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: first, payload: { currentPassword: PASSWORD, newPassword: 'a brand new one' } });
  assert.equal(ok.statusCode, 204);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: first })).statusCode, 200);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: second })).statusCode, 401);
  assert.equal((await h.app.inject(loginAs('auditor', PASSWORD))).statusCode, 401);
  assert.equal((await h.app.inject(loginAs('auditor', 'a brand new one'))).statusCode, 200);
  const entry = (await h.app.services.auditLog.list({ action: 'auth.password_change', limit: 1 }))[0];
  assert.deepEqual(entry?.details, { sessionsEnded: 1, tokensRevoked: 1 }, "the auditor fixture's API token ends too");
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: h.bearer.auditor })).statusCode, 401);
});
