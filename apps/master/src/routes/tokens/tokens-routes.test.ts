import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, PASSWORD, startHarness } from '../../testing/harness.ts';

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

  const audit = await h.app.services.auditLog.list({ username: 'operator', limit: 10 });
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

// Security review (issue 18): tokens had no scope and no expiry, survived a password change
// and a disable, and a token could mint tokens that outlived its revocation.
test('a token has a role no higher than its creator\'s and acts with the lower of it and its user\'s', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const session = await login(h.app, 'operator');
  const tooHigh = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: session, payload: { name: 'x', role: 'admin' } });
  assert.equal(tooHigh.statusCode, 403);
  assert.match(tooHigh.json().error, /^role: /);
  const scraper = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: session, payload: { name: 'metrics', role: 'auditor' } });
  assert.equal(scraper.statusCode, 201);
  assert.equal(scraper.json().role, 'auditor');
  const bearer = { authorization: `Bearer ${scraper.json().token}` };
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer })).json().role, 'auditor');
  const write = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer, payload: { name: 'y', role: 'operator' } });
  assert.equal(write.statusCode, 403, 'read-only');

  // An admin's token for an operator acts as an operator; the admin demoted, as the lower role.
  const admin = await login(h.app, 'admin');
  const own = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { name: 'ops' } });
  assert.equal(own.json().role, 'admin');
  h.deps.db.prepare("UPDATE users SET role = 'operator' WHERE username = 'admin'").run();
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${own.json().token}` } })).json().role, 'operator');
});

test('a token expires: 90 days by default, at most 90 for operator and admin tokens, 1825 for read-only ones', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const session = await login(h.app, 'operator');
  const long = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: session, payload: { name: 'x', expiresInDays: 365 } });
  assert.equal(long.statusCode, 400);
  assert.match(long.json().error, /^expiresInDays: at most 90/);
  const scraper = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: session, payload: { name: 'metrics', role: 'auditor', expiresInDays: 1825 } });
  assert.equal(scraper.statusCode, 201);
  const plain = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: session, payload: { name: 'script' } });
  assert.equal(Date.parse(plain.json().expiresAt), h.clock.t + 90 * 86_400_000);
  const bearer = { authorization: `Bearer ${plain.json().token}` };
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer })).statusCode, 200);
  h.clock.t += 90 * 86_400_000;
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer })).statusCode, 401, 'expired');
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${scraper.json().token}` } })).statusCode, 200, 'the read-only one lives on');
});

test("a user's tokens end with a password change or a disable, and a token's children with it", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const make = async (headers: Record<string, string>, name: string) => {
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers, payload: { name } });
    assert.equal(r.statusCode, 201, r.body);
    return { authorization: `Bearer ${r.json().token}`, id: r.json().id as string, expiresAt: r.json().expiresAt as string };
  };
  const works = async (b: { authorization: string }) => (await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: b.authorization } })).statusCode === 200;

  // Own password change.
  const session = await login(h.app, 'operator');
  const t1 = await make(session, 'one');
  const changed = await h.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: session, payload: { currentPassword: PASSWORD, newPassword: 'a-new-password-123' } });
  assert.equal(changed.statusCode, 204, changed.body);
  assert.equal(await works(t1), false, 'revoked by the password change');

  // Disabled by an admin (and enabled again: the tokens stay dead).
  const auditorSession = await login(h.app, 'auditor');
  const t2 = await make(auditorSession, 'two');
  const admin = await login(h.app, 'admin');
  assert.equal((await h.app.inject({ method: 'PATCH', url: '/api/v1/users/1', headers: admin, payload: { disabled: true } })).statusCode, 200);
  assert.equal((await h.app.inject({ method: 'PATCH', url: '/api/v1/users/1', headers: admin, payload: { disabled: false } })).statusCode, 200);
  assert.equal(await works(t2), false, 'revoked by the disable');

  // A token made with a token never outlives it, and dies with it.
  const parent = await make(admin, 'parent');
  const child = await make({ authorization: parent.authorization }, 'child');
  const grandchild = await make({ authorization: child.authorization }, 'grandchild');
  assert.ok(Date.parse(child.expiresAt) <= Date.parse(parent.expiresAt));
  assert.equal((await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${parent.id}`, headers: admin })).statusCode, 204);
  assert.equal(await works(child), false, 'the child is revoked with its parent');
  assert.equal(await works(grandchild), false, 'and its child');
});
