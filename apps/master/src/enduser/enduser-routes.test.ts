import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { startHarness, type Harness } from '../testing/harness.ts';
import { createDigestRepository } from '../digests/digest-repository.ts';
import { createDigestStore } from '../digests/settings-repository.ts';
import { signLink } from '../digests/links.ts';
import { currentRules } from '../rules/rules-repository.ts';
import { currentListsVersion, recipientListsOf } from '../recipient-lists/recipient-lists-store.ts';
import { enduserRoutes } from './enduser-routes.ts';

/** The /user routes on the test harness's app (fake cluster: list changes only count pushes). */
async function start(requestsPerMinute = 1000, log?: Logger): Promise<Harness> {
  return startHarness({
    ...(log ? { log } : {}),
    extraPlugins: [
      async (app: FastifyInstance) => {
        const { database, now, log, cluster } = app.deps;
        const auditLog = app.services.auditLog;
        await enduserRoutes({
          store: createDigestStore(database.db), repo: createDigestRepository(database.db), cluster, releaseCopy: async () => { throw new Error('no scanners in this test'); }, auditLog, publish: { db: database.db, now, log, cluster }, log, now,
          secureCookie: false, requestsPerMinute,
        })(app);
      },
    ],
  });
}

const link = async (h: Harness, recipient: string, expiresInMs = 60_000, action: 'open' | 'release' = 'open') =>
  signLink(await createDigestStore(h.deps.database.db).secret(), { action, nodeId: '', messageId: '', recipient, expiresAt: h.clock.t + expiresInMs });
const form = (fields: Record<string, string>, cookie?: string) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
  payload: new URLSearchParams(fields).toString(),
});

test('every /user answer carries the strict CSP, no-referrer and no-store headers', async (t) => {
  const h = await start();
  t.after(() => h.close());
  for (const url of ['/user/', '/user/link?t=junk', '/user/style.css']) {
    const res = await h.app.inject({ method: 'GET', url });
    assert.equal(res.headers['content-security-policy'], "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", url);
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cache-control'], 'no-store');
  }
});

test('an open link starts a recipient-scoped session that ends after sessionMinutes; the page shows that recipient only', async (t) => {
  const h = await start();
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'GET', url: `/user/link?t=${await link(h, 'bob@example.test')}` });
  // A page that steps to /user/ itself, not a redirect (issue 18: a redirect stays part of the webmail's cross-site navigation).
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers.location, undefined);
  assert.match(res.body, /<meta http-equiv="refresh" content="0;url=\/user\/">/);
  assert.match(res.body, /<a href="\/user\/">/);
  const cookie = res.cookies.find((c) => c.name === 'moat_enduser')!;
  assert.equal(cookie.path, '/user');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  const page = await h.app.inject({ method: 'GET', url: '/user/', headers: { cookie: `moat_enduser=${cookie.value}` } });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /Quarantine of bob@example\.test/);
  // The console's API does not take this cookie.
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `moat_enduser=${cookie.value}` } })).statusCode, 401);
  h.clock.t += 31 * 60_000;
  assert.equal((await h.app.inject({ method: 'GET', url: '/user/', headers: { cookie: `moat_enduser=${cookie.value}` } })).statusCode, 401);
});

test('expired and forged links are refused with a page that says which; repeated bad links are slowed down', async (t) => {
  const h = await start();
  t.after(() => h.close());
  const token = await link(h, 'bob@example.test', 1000, 'release');
  h.clock.t += 1000;
  const expired = await h.app.inject({ method: 'GET', url: `/user/link?t=${token}` });
  assert.equal(expired.statusCode, 410);
  assert.match(expired.body, /expired/);
  assert.equal(expired.cookies.length, 0, 'no session from a refused link');
  for (let i = 0; i < 19; i++) assert.equal((await h.app.inject({ method: 'POST', url: '/user/link', ...form({ t: `x${i}` }) })).statusCode, 403);
  const limited = await h.app.inject({ method: 'GET', url: `/user/link?t=${await link(h, 'bob@example.test')}` });
  assert.equal(limited.statusCode, 429, 'even a good link waits once this client sent 20 bad ones');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
});

test('requests per client address are limited', async (t) => {
  const h = await start(5);
  t.after(() => h.close());
  for (let i = 0; i < 5; i++) assert.equal((await h.app.inject({ method: 'GET', url: '/user/style.css' })).statusCode, 200);
  assert.equal((await h.app.inject({ method: 'GET', url: '/user/style.css' })).statusCode, 429);
});

test('a list change needs the session and its form value; it stores an end-user lists version audited as the end user, never a rules version', async (t) => {
  const h = await start();
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'GET', url: `/user/link?t=${await link(h, 'bob@example.test')}` });
  const cookie = `moat_enduser=${res.cookies.find((c) => c.name === 'moat_enduser')!.value}`;
  const page = await h.app.inject({ method: 'GET', url: '/user/', headers: { cookie } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const rulesBefore = (await currentRules(h.deps.database.db))!.version;
  assert.equal((await currentListsVersion(h.deps.database.db)), 0);
  assert.equal((await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ pattern: 'a@b.example' }) })).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ csrf: 'nope', pattern: 'a@b.example' }, cookie) })).statusCode, 403);
  assert.equal((await h.app.inject({ method: 'POST', url: '/user/lists/other/add', ...form({ csrf, pattern: 'a@b.example' }, cookie) })).statusCode, 404);
  assert.equal((await currentListsVersion(h.deps.database.db)), 0, 'nothing changed');
  const ok = await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ csrf, pattern: 'A@B.example' }, cookie) });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal((await currentListsVersion(h.deps.database.db)), 1);
  assert.deepEqual((await recipientListsOf(h.deps.database.db, 'bob@example.test')), { allow: ['a@b.example'], block: [] });
  assert.equal((await currentRules(h.deps.database.db))!.version, rulesBefore, 'no rules version');
  assert.deepEqual((await currentRules(h.deps.database.db))!.document.recipientLists, {}, 'nothing in the rules');
  assert.equal(h.cluster.recipientListsChangedCalls, 1, 'pushed to the scanners');
  assert.equal(h.cluster.rulesChangedCalls, 0, 'no rules push');
  const [entry] = await h.app.services.auditLog.list({ action: 'rules.recipient-lists', limit: 1 });
  assert.equal(entry?.username, 'enduser:bob@example.test');
  assert.equal(entry?.target, 'recipient-lists:1');
  assert.equal(entry?.details.pattern, 'a@b.example');
  assert.equal(entry?.details.listsVersion, 1);
  // The same entry again changes nothing; moving it to the block list takes it off the allow list.
  await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ csrf, pattern: 'a@b.example' }, cookie) });
  assert.equal((await currentListsVersion(h.deps.database.db)), 1);
  await h.app.inject({ method: 'POST', url: '/user/lists/block/add', ...form({ csrf, pattern: 'a@b.example' }, cookie) });
  assert.deepEqual((await recipientListsOf(h.deps.database.db, 'bob@example.test')), { allow: [], block: ['a@b.example'] });
  assert.match((await h.app.inject({ method: 'GET', url: '/user/', headers: { cookie } })).body, /a@b\.example/, 'the page shows the list');
  await h.app.inject({ method: 'POST', url: '/user/lists/block/remove', ...form({ csrf, pattern: 'a@b.example' }, cookie) });
  assert.deepEqual((await recipientListsOf(h.deps.database.db, 'bob@example.test')), { allow: [], block: [] });
  assert.equal((await currentListsVersion(h.deps.database.db)), 3);
  assert.equal((await currentRules(h.deps.database.db))!.version, rulesBefore);
});

test('a link\'s token never reaches the log (fastify\'s request lines are off for /user/link)', async (t) => {
  const lines: string[] = [];
  // At debug: a successful read's HTTP_REQUEST line is debug since 9dacda6.
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  const h = await start(1000, log);
  t.after(() => h.close());
  const token = await link(h, 'bob@example.test');
  await h.app.inject({ method: 'GET', url: `/user/link?t=${token}` });
  await h.app.inject({ method: 'POST', url: '/user/link', ...form({ t: token }) });
  await h.app.inject({ method: 'GET', url: '/user/style.css' });
  assert.ok(lines.some((l) => l.includes('/user/style.css')), 'request lines are logged elsewhere');
  assert.equal(lines.filter((l) => l.includes(token.split('.')[1]!)).length, 0);
});

// Security review (issue 18): an end user could put `*e*` on their allow list (filtering off for
// them), and every click stored a rules version that was never pruned.
async function signedIn(h: Harness, recipient: string) {
  const res = await h.app.inject({ method: 'GET', url: `/user/link?t=${await link(h, recipient)}` });
  const cookie = `moat_enduser=${res.cookies.find((c) => c.name === 'moat_enduser')!.value}`;
  const page = await h.app.inject({ method: 'GET', url: '/user/', headers: { cookie } });
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page.body)![1]! };
}

test("an end user's list takes only an address or a whole domain: *e* is a 400 naming the field; a bare domain means *@domain", async (t) => {
  const h = await start();
  t.after(() => h.close());
  const { cookie, csrf } = await signedIn(h, 'bob@example.test');
  for (const pattern of ['*e*', '*', '*@*.example', 'a*@b.example', '*.example', 'b.example*']) {
    const res = await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ csrf, pattern }, cookie) });
    assert.equal(res.statusCode, 400, pattern);
    assert.match(res.body, /pattern: only an address/, pattern);
  }
  assert.equal((await currentListsVersion(h.deps.database.db)), 0, 'nothing stored');
  assert.equal((await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ csrf, pattern: 'Partner.Example' }, cookie) })).statusCode, 200);
  assert.equal((await h.app.inject({ method: 'POST', url: '/user/lists/block/add', ...form({ csrf, pattern: '*@spam.example' }, cookie) })).statusCode, 200);
  assert.deepEqual((await recipientListsOf(h.deps.database.db, 'bob@example.test')), { allow: ['*@partner.example'], block: ['*@spam.example'] });
  // The same rule holds for an admin's per-recipient lists in the rules: the schema refuses it, naming the key.
  const admin = await h.app.inject({ method: 'GET', url: '/api/v1/rules', headers: h.bearer.admin });
  const doc = { ...admin.json().document, recipientLists: { 'carol@example.test': { allow: ['*e*'], block: [] } } };
  const put = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: h.bearer.admin, payload: doc });
  assert.equal(put.statusCode, 400);
  assert.match(put.body, /recipientLists\.carol@example\.test\.allow\.0/);
});

test("end users' list versions are pruned after a day below the newest 50; the lists stay whole, every change stays in the audit log", async (t) => {
  const h = await start();
  t.after(() => h.close());
  const { cookie, csrf } = await signedIn(h, 'bob@example.test');
  const rules = (await currentRules(h.deps.database.db))!.version;
  for (let i = 0; i < 60; i++) {
    const res = await h.app.inject({ method: 'POST', url: '/user/lists/allow/add', ...form({ csrf, pattern: `s${i}@b.example` }, cookie) });
    assert.equal(res.statusCode, 200, res.body);
  }
  const count = () => (h.deps.db.prepare('SELECT count(*) AS n FROM recipient_list_versions').get() as { n: number }).n;
  assert.equal(count(), 60, 'a day has not passed: all kept');
  h.clock.t += 25 * 3600_000;
  const fresh = await signedIn(h, 'bob@example.test');
  assert.equal((await h.app.inject({ method: 'POST', url: '/user/lists/block/add', ...form({ csrf: fresh.csrf, pattern: 'late@b.example' }, fresh.cookie) })).statusCode, 200);
  assert.equal((await currentListsVersion(h.deps.database.db)), 61, 'the current version stays');
  assert.equal(count(), 50, 'the newest versions only');
  assert.equal((await recipientListsOf(h.deps.database.db, 'bob@example.test')).allow.length, 60, 'the lists themselves are whole');
  assert.equal((await currentRules(h.deps.database.db))!.version, rules, 'not one rules version');
  assert.equal((await h.app.services.auditLog.list({ action: 'rules.recipient-lists', limit: 100 })).length, 61, 'every change is still in the audit log, with its pattern');
});
