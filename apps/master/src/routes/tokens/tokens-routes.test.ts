import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, startHarness } from '../../testing/harness.ts';

test('an API token is shown once, works as a bearer credential, and stops working when revoked', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const session = await login(h.app, 'operator');
  const created = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: session, payload: { name: 'backup script' } });
  assert.equal(created.statusCode, 201);
  const { id, token, name, username, revokedAt, lastUsedAt } = created.json();
  assert.match(token, new RegExp(`^moat_${id}_[A-Za-z0-9_-]{43}$`));
  assert.deepEqual([name, username, revokedAt, lastUsedAt], ['backup script', 'operator', null, null]);
  // Only the hash is stored, and the list never shows the token again.
  // The secret is everything after `moat_<16 hex id>_` (it may itself contain `_` or `-`).
  const secret = token.slice('moat_'.length + 16 + 1);
  assert.equal(secret.length, 43);
  assert.ok(!JSON.stringify(h.deps.db.prepare('SELECT * FROM api_tokens').all()).includes(secret), 'only the hash is stored');
  const list = await h.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: session });
  assert.ok(!list.body.includes(token), 'the list never shows the token');
  assert.equal('token' in list.json().tokens[0], false);

  const bearer = { authorization: `Bearer ${token}` };
  const me = await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer });
  assert.deepEqual(me.json(), { userId: 2, username: 'operator', role: 'operator', via: `token:${id}` });
  const used = await h.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer });
  assert.equal(used.json().tokens.find((x: { id: string }) => x.id === id).lastUsedAt, new Date(h.clock.t).toISOString());

  // A tampered secret with a valid id is refused.
  const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${tampered}` } })).statusCode, 401);

  const revoked = await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: session });
  assert.equal(revoked.statusCode, 204);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer })).statusCode, 401);
  const after = await h.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: session });
  assert.equal(after.json().tokens.find((x: { id: string }) => x.id === id).revokedAt, new Date(h.clock.t).toISOString());

  const audit = h.app.services.auditLog.list({ username: 'operator', limit: 10 });
  assert.deepEqual(audit.map((e) => [e.action, e.target, e.via]).slice(0, 2), [
    ['token.revoke', `token:${id}`, 'session'],
    ['token.create', `token:${id}`, 'session'],
  ]);
  assert.ok(!JSON.stringify(audit).includes(token), 'the audit log never holds the token');
});

test('users manage their own tokens; an admin manages everyone\'s', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const mine = await h.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: h.bearer.auditor });
  assert.deepEqual(mine.json().tokens.map((x: { username: string }) => x.username), ['auditor']);
  const all = await h.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: h.bearer.admin });
  assert.deepEqual(all.json().tokens.map((x: { username: string }) => x.username).sort(), ['admin', 'auditor', 'operator']);
  const operatorToken = all.json().tokens.find((x: { username: string }) => x.username === 'operator').id;

  // Someone else's token is not found for a non-admin.
  assert.equal((await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${operatorToken}`, headers: h.bearer.auditor })).statusCode, 404);
  const forOther = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h.bearer.operator, payload: { name: 'x', userId: 1 } });
  assert.equal(forOther.statusCode, 403);

  // An admin creates a token for the auditor account (Prometheus) and revokes the operator's.
  const prom = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h.bearer.admin, payload: { name: 'prometheus', userId: 1 } });
  assert.equal(prom.statusCode, 201);
  assert.equal(prom.json().username, 'auditor');
  const metrics = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${prom.json().token}` } });
  assert.equal(metrics.statusCode, 200);
  assert.equal((await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${operatorToken}`, headers: h.bearer.admin })).statusCode, 204);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: h.bearer.operator })).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h.bearer.admin, payload: { name: 'x', userId: 99 } })).statusCode, 404);
  assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/v1/tokens/not-an-id', headers: h.bearer.admin })).statusCode, 400);
});
