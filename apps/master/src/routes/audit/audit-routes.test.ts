import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, startHarness } from '../../testing/harness.ts';

test('the audit log lists changes with who, when, from where and how; filters and pages', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const start = h.clock.t;
  const session = await login(h.app, 'admin');
  h.clock.t += 60_000;
  await h.app.inject({ method: 'POST', url: '/api/v1/users', headers: session, payload: { username: 'dave', password: 'daves password', role: 'auditor' }, remoteAddress: '127.0.0.5' });
  h.clock.t += 60_000;
  await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h.bearer.operator, payload: { name: 'ci' } });
  h.clock.t += 60_000;
  await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'dave', password: 'nope nope' } });

  const all = await h.app.inject({ method: 'GET', url: '/api/v1/audit', headers: h.bearer.auditor });
  assert.equal(all.statusCode, 200);
  const entries = all.json().entries;
  assert.deepEqual(
    entries.map((e: Record<string, unknown>) => [e['action'], e['username'], e['via'], e['at']]),
    [
      ['auth.login_failed', 'dave', 'password', new Date(start + 180_000).toISOString()],
      ['token.create', 'operator', entries[1].via, new Date(start + 120_000).toISOString()],
      ['user.create', 'admin', 'session', new Date(start + 60_000).toISOString()],
      ['auth.login', 'admin', 'password', new Date(start).toISOString()],
    ],
  );
  assert.match(entries[1].via, /^token:[a-f0-9]{16}$/);
  assert.equal(entries[2].ip, '127.0.0.5');
  assert.deepEqual(entries[2].details, { username: 'dave', role: 'auditor' });
  assert.doesNotMatch(all.body, /daves password|nope nope/);
  assert.equal(all.json().next, null);

  const byUser = await h.app.inject({ method: 'GET', url: '/api/v1/audit?username=admin', headers: h.bearer.auditor });
  assert.deepEqual(byUser.json().entries.map((e: { action: string }) => e.action), ['user.create', 'auth.login']);
  const byAction = await h.app.inject({ method: 'GET', url: '/api/v1/audit?action=token.create', headers: h.bearer.auditor });
  assert.equal(byAction.json().entries.length, 1);
  const since = encodeURIComponent(new Date(start + 60_000).toISOString());
  const until = encodeURIComponent(new Date(start + 180_000).toISOString());
  const window = await h.app.inject({ method: 'GET', url: `/api/v1/audit?since=${since}&until=${until}`, headers: h.bearer.auditor });
  assert.deepEqual(window.json().entries.map((e: { action: string }) => e.action), ['token.create', 'user.create']);

  const page1 = await h.app.inject({ method: 'GET', url: '/api/v1/audit?limit=3', headers: h.bearer.auditor });
  assert.equal(page1.json().entries.length, 3);
  const next = page1.json().next;
  assert.equal(typeof next, 'number');
  const page2 = await h.app.inject({ method: 'GET', url: `/api/v1/audit?limit=3&before=${next}`, headers: h.bearer.auditor });
  assert.deepEqual(page2.json().entries.map((e: { action: string }) => e.action), ['auth.login']);

  const badTime = await h.app.inject({ method: 'GET', url: '/api/v1/audit?since=yesterday', headers: h.bearer.auditor });
  assert.equal(badTime.statusCode, 400);
  assert.equal(badTime.json().details[0].field, 'query.since');
});
