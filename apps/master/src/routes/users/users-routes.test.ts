import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, startHarness } from '../../testing/harness.ts';

// Fixture users: 1 auditor, 2 operator, 3 admin.

test('an admin creates, changes and deletes users; each change is audited', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const admin = h.bearer.admin;
  const created = await h.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'carol', password: 'carols password', role: 'operator' } });
  assert.equal(created.statusCode, 201);
  const carol = created.json();
  assert.deepEqual(carol, { id: 4, username: 'carol', role: 'operator', disabled: false, createdAt: new Date(h.clock.t).toISOString() });
  assert.equal('passwordHash' in carol || 'password_hash' in carol, false);

  const list = await h.app.inject({ method: 'GET', url: '/api/v1/users', headers: h.bearer.auditor });
  assert.deepEqual(list.json().users.map((u: { username: string }) => u.username), ['admin', 'auditor', 'carol', 'operator']);
  assert.doesNotMatch(list.body, /scrypt/);

  const carolSession = await login(h.app, 'carol', 'carols password');
  const patched = await h.app.inject({ method: 'PATCH', url: '/api/v1/users/4', headers: admin, payload: { role: 'auditor', password: 'reset by admin' } });
  assert.equal(patched.statusCode, 200);
  assert.equal(patched.json().role, 'auditor');
  // A password reset ends the user's sessions.
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: carolSession })).statusCode, 401);
  await login(h.app, 'carol', 'reset by admin');

  const deleted = await h.app.inject({ method: 'DELETE', url: '/api/v1/users/4', headers: admin });
  assert.equal(deleted.statusCode, 204);
  assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/v1/users/4', headers: admin })).statusCode, 404);

  const actions = (await h.app.services.auditLog.list({ username: 'admin', limit: 10 })).map((e) => [e.action, e.target, e.details]);
  assert.deepEqual(actions, [
    ['user.delete', 'user:4', { username: 'carol', role: 'auditor' }],
    ['user.update', 'user:4', { username: 'carol', role: { from: 'operator', to: 'auditor' }, passwordReset: true, sessionsEnded: 1, tokensRevoked: 0 }],
    ['user.create', 'user:4', { username: 'carol', role: 'operator' }],
  ]);
});

test('an operator (or auditor) cannot manage users', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  for (const who of [h.bearer.operator, h.bearer.auditor]) {
    for (const req of [
      { method: 'POST' as const, url: '/api/v1/users', payload: { username: 'eve', password: 'eve password', role: 'admin' } },
      { method: 'PATCH' as const, url: '/api/v1/users/2', payload: { role: 'admin' } },
      { method: 'DELETE' as const, url: '/api/v1/users/1' },
    ]) {
      const res = await h.app.inject({ ...req, headers: who });
      assert.equal(res.statusCode, 403, `${req.method} ${req.url}`);
      assert.equal(res.json().code, 'MOAT_ERR_FORBIDDEN');
    }
  }
  assert.equal(await h.app.services.users.count(), 3);
});

test('user input is validated: names, passwords, roles, empty changes, duplicates', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const post = (payload: object) => h.app.inject({ method: 'POST', url: '/api/v1/users', headers: h.bearer.admin, payload });
  const bad = await post({ username: 'has space', password: 'short', role: 'root' });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(bad.json().details.map((d: { field: string }) => d.field).sort(), ['body.password', 'body.role', 'body.username']);
  assert.deepEqual(bad.json().details.find((d: { field: string }) => d.field === 'body.role'), { field: 'body.role', message: 'must be one of: auditor, operator, admin' });
  const taken = await post({ username: 'ADMIN', password: 'long enough', role: 'auditor' });
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json().code, 'MOAT_ERR_USERNAME_TAKEN');
  const empty = await h.app.inject({ method: 'PATCH', url: '/api/v1/users/1', headers: h.bearer.admin, payload: {} });
  assert.equal(empty.statusCode, 400);
  const missing = await h.app.inject({ method: 'PATCH', url: '/api/v1/users/99', headers: h.bearer.admin, payload: { disabled: true } });
  assert.equal(missing.statusCode, 404);
  const badId = await h.app.inject({ method: 'DELETE', url: '/api/v1/users/abc', headers: h.bearer.admin });
  assert.equal(badId.statusCode, 400);
  assert.equal(badId.json().details[0].field, 'params.id');
});

test('you cannot delete yourself, nor remove the last enabled admin', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const self = await h.app.inject({ method: 'DELETE', url: '/api/v1/users/3', headers: h.bearer.admin });
  assert.equal(self.statusCode, 409);
  assert.equal(self.json().code, 'MOAT_ERR_SELF_DELETE');
  for (const payload of [{ role: 'operator' }, { disabled: true }]) {
    const res = await h.app.inject({ method: 'PATCH', url: '/api/v1/users/3', headers: h.bearer.admin, payload });
    assert.equal(res.statusCode, 409, JSON.stringify(payload));
    assert.equal(res.json().code, 'MOAT_ERR_LAST_ADMIN');
  }
  // With a second admin, the first may step down, and the second may delete the first.
  assert.equal((await h.app.inject({ method: 'PATCH', url: '/api/v1/users/2', headers: h.bearer.admin, payload: { role: 'admin' } })).statusCode, 200);
  assert.equal((await h.app.inject({ method: 'PATCH', url: '/api/v1/users/3', headers: h.bearer.admin, payload: { role: 'auditor' } })).statusCode, 200);
  // The admin fixture's token now acts as an auditor: roles are read on every request.
  assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/v1/users/2', headers: h.bearer.admin })).statusCode, 403);
  // A token keeps the role it was made with: promoting its user does not raise it (issue 18).
  assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/v1/users/3', headers: h.bearer.operator })).statusCode, 403);
  const promoted = await login(h.app, 'operator');
  const selfDelete = await h.app.inject({ method: 'DELETE', url: '/api/v1/users/2', headers: promoted });
  assert.equal(selfDelete.statusCode, 409);
  assert.equal(selfDelete.json().code, 'MOAT_ERR_SELF_DELETE');
  assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/v1/users/3', headers: promoted })).statusCode, 204);
});
