import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import pino from 'pino';
import { validateDocument } from '@moat/config';
import type { AppDeps, ClusterControl } from '../../app-deps.ts';
import type { Db } from '@moat/storage';
import type { Engine } from '../../db/database.ts';
import { MasterConfigSchema } from '../../config.ts';
import { addNode, event, ingestInto, logged, msgId, quarantined, T0 } from '../../data/test-fixtures.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../../testing/databases.ts';
import errorsPlugin from '../../plugins/errors.ts';
import { dataRoutes } from './index.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const NOW = T0 + 2 * 86_400_000;

const noCluster: ClusterControl = {
  rulesChanged: () => {},
  recipientListsChanged: () => {},
  fetchQuarantined: () => Promise.reject(new Error('no cluster')),
  quarantineAction: () => Promise.reject(new Error('no cluster')),
  queueList: () => Promise.reject(new Error('no cluster')),
  queueAction: () => Promise.reject(new Error('no cluster')),
  fetchRetained: () => Promise.reject(new Error('no cluster')),
  redeliverRetained: () => Promise.reject(new Error('no cluster')),
};

/** A bare fastify app set up like the master's (same Ajv options, same error answers) with only these routes. */
async function start(engine: Engine, t: TestContext) {
  const database = await openTestDatabase(engine, t);
  await addNode(database.db, A, 'scanner-a');
  const { ingestBatch } = ingestInto(database);
  await ingestBatch(A, [
    event(1, 'message.logged', logged(1)),
    event(2, 'message.logged', logged(2, { mailFrom: '=HYPERLINK("http://evil.test")@evil.test', action: 'reject', status: 'rejected' })),
    event(3, 'message.logged', logged(3, { action: 'quarantine', status: 'quarantined', subject: 'QUARANTINE-ME now' })),
    event(4, 'quarantine.added', quarantined(3, { subject: 'QUARANTINE-ME now' })),
  ]);
  await ingestBatch(B, [event(1, 'message.logged', logged(4)), event(2, 'message.logged', logged(5, { action: 'quarantine' })), event(3, 'quarantine.added', quarantined(5))]);
  const config = validateDocument(MasterConfigSchema, { dataDir: '/nonexistent' }, 'test config');
  // The data routes read through `database` only: on either engine, the raw SQLite handle is one that fails if touched.
  const deps: AppDeps = { config, db: noRawDb, database, log: pino({ level: 'silent' }), now: () => NOW, cluster: noCluster };
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, allErrors: true } } }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(errorsPlugin);
  await app.register(dataRoutes, { prefix: '/api/v1', deps });
  await app.ready();
  t.after(() => app.close());
  const get = async (url: string) => app.inject({ method: 'GET', url: `/api/v1${url}` });
  return { app, get, database };
}

const noRawDb = new Proxy({}, { get: () => { throw new Error('a data route used the raw SQLite handle (deps.db) instead of deps.database'); } }) as Db;

function fieldsOf(body: { code: string; details?: { field: string }[] }): string[] {
  assert.equal(body.code, 'MOAT_ERR_VALIDATION');
  return (body.details ?? []).map((d) => d.field);
}

for (const engine of ENGINES) {
  test(`${engine}: GET /messages: a page of summaries, newest first, with a cursor`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    const res = await get('/messages?limit=2');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body.items.map((i: { id: string }) => i.id), [msgId(5), msgId(4)]);
    assert.equal(body.items[0].receivedAt, new Date(T0 + 5 * 60_000).toISOString());
    assert.deepEqual(Object.keys(body.items[0]).sort(), ['action', 'clientIp', 'firstRcpt', 'id', 'mailFrom', 'nodeId', 'nodeName', 'rcptCount', 'receivedAt', 'score', 'size', 'status', 'subject']);
    const next = await get(`/messages?limit=2&cursor=${body.next}`);
    assert.deepEqual(next.json().items.map((i: { id: string }) => i.id), [msgId(3), msgId(2)]);
    const filtered = await get(`/messages?node=scanner-a&action=reject&from=${encodeURIComponent(new Date(T0).toISOString())}&to=${T0 + 86_400_000}`);
    assert.deepEqual(filtered.json().items.map((i: { id: string; nodeName: string }) => [i.id, i.nodeName]), [[msgId(2), 'scanner-a']]);
    assert.equal((await get('/messages?subject=quarantine-me')).json().items.length, 1);
    assert.equal((await get('/messages?sender=user1@sender1.test')).json().items.length, 1);
  });

  test(`${engine}: GET /messages: bad queries are 400 naming the field`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    const cases: [string, string][] = [
      ['/messages?limit=0', 'query.limit'],
      ['/messages?limit=501', 'query.limit'],
      ['/messages?bogus=1', 'query.bogus'],
      ['/messages?from=yesterday', 'query.from'],
      ['/messages?to=2024-02-31', 'query.to'],
      ['/messages?action=explode', 'query.action'],
      ['/messages?cursor=1;DROP', 'query.cursor'],
      ['/messages?cursor=9999999999999999.1', 'query.cursor'],
      ['/messages?node=../x', 'query.node'],
      ['/messages?match=regex', 'query.match'],
    ];
    for (const [url, field] of cases) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, url);
      assert.ok(fieldsOf(res.json()).includes(field), `${url}: ${res.body}`);
    }
  });

  test(`${engine}: GET /messages/:nodeId/:id: detail, 404, and 400 for a malformed id`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    const res = await get(`/messages/${A}/${msgId(3)}`);
    assert.equal(res.statusCode, 200);
    const m = res.json();
    assert.equal(m.nodeName, 'scanner-a');
    assert.deepEqual(m.quarantine, { status: 'held', statusAt: null });
    assert.equal(m.delivery.attempts, 0);
    const missing = await get(`/messages/${B}/${msgId(3)}`);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'MOAT_ERR_NOT_FOUND');
    for (const [url, field] of [[`/messages/${A}/${msgId(3).slice(1)}`, 'params.id'], [`/messages/${A}/${msgId(3)}x`, 'params.id'], [`/messages/${A}/${'%2E%2E%2F'.repeat(2)}ab`, 'params.id'], [`/messages/ZZ/${msgId(3)}`, 'params.nodeId']]) {
      const bad = await get(url!);
      assert.equal(bad.statusCode, 400, url);
      assert.ok(fieldsOf(bad.json()).includes(field!), `${url}: ${bad.body}`);
    }
  });

  test(`${engine}: GET /quarantine and /quarantine/:id`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    const list = await get('/quarantine');
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().items.map((i: { id: string; nodeId: string }) => [i.id, i.nodeId]), [[msgId(5), B], [msgId(3), A]]);
    assert.equal((await get('/quarantine?subject=quarantine-me')).json().items.length, 1);
    assert.equal((await get('/quarantine?status=released')).json().items.length, 0);
    const one = await get(`/quarantine/${msgId(5)}`);
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().nodeId, B);
    assert.equal(one.json().file, undefined, 'the file name on the node is not exposed');
    assert.deepEqual(one.json().reasons, [{ kind: 'content', rule: 'demo', match: 'QUARANTINE-ME' }]);
    assert.equal((await get(`/quarantine/${msgId(9)}`)).statusCode, 404);
    const bad = await get('/quarantine/..%2F..%2Fetc%2Fpasswd');
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(fieldsOf(bad.json()), ['params.id']);
    assert.ok(fieldsOf((await get('/quarantine?status=gone')).json()).includes('query.status'));
    assert.ok(fieldsOf((await get('/quarantine?cursor=9999999999999999.9999999999999999')).json()).includes('query.cursor'));
  });

  test(`${engine}: GET /reports/traffic as JSON and CSV`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    const res = await get(`/reports/traffic?bucket=day&from=${T0}&to=${T0 + 86_400_000}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      bucket: 'day', from: new Date(T0).toISOString(), to: new Date(T0 + 86_400_000).toISOString(),
      rows: [{ start: new Date(T0).toISOString(), deliver: 2, tag: 0, quarantine: 2, reject: 1, total: 5, bytes: 5015 }],
    });
    assert.equal((await get('/reports/traffic')).json().rows.length, 7 * 24, 'default: the last 7 days by hour');
    const byNode = await get(`/reports/traffic?bucket=day&from=${T0}&to=${T0 + 1}&byNode=true`);
    assert.deepEqual(byNode.json().rows.map((r: { nodeId: string; total: number }) => [r.nodeId, r.total]), [[A, 3], [B, 2]]);
    const csv = await get(`/reports/traffic?bucket=day&from=${T0}&to=${T0 + 1}&byNode=true&format=csv`);
    assert.equal(csv.statusCode, 200);
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.equal(csv.headers['content-disposition'], 'attachment; filename="moat-traffic-day-20250106T0000Z-20250107T0000Z.csv"');
    assert.equal(csv.body, `start,nodeId,deliver,tag,quarantine,reject,total,bytes\r\n2025-01-06T00:00:00.000Z,${A},1,0,1,1,3,3006\r\n2025-01-06T00:00:00.000Z,${B},1,0,1,0,2,2009\r\n`);
    assert.ok(fieldsOf((await get('/reports/traffic?bucket=week')).json()).includes('query.bucket'));
    assert.ok(fieldsOf((await get('/reports/traffic?from=0&to=999999999999')).json()).includes('query.from'), 'too many buckets');
    assert.ok(fieldsOf((await get(`/reports/traffic?from=${T0}&to=${T0}`)).json()).includes('query.from'), 'empty range');
  });

  test(`${engine}: GET /reports/top/:kind: JSON, CSV with formulas neutralised, 400 for an unknown kind`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    const res = await get(`/reports/top/blocked_sender?from=${T0}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().rows, [{ value: '=hyperlink("http://evil.test")@evil.test', count: 1 }]);
    const csv = await get(`/reports/top/blocked_sender?from=${T0}&format=csv`);
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(String(csv.headers['content-disposition']), /^attachment; filename="moat-top-blocked_sender-[0-9TZ]+-[0-9TZ]+\.csv"$/);
    assert.equal(csv.body, 'value,count\r\n"\'=hyperlink(""http://evil.test"")@evil.test",1\r\n');
    assert.equal((await get(`/reports/top/recipient?from=${T0}&limit=2`)).json().rows.length, 2);
    // ?node= narrows a top list to one node, as it narrows the traffic: the nodes' lists add up to the cluster's.
    const total = async (q: string) => (await get(`/reports/top/sender?from=${T0}${q}`)).json().rows.reduce((n: number, r: { count: number }) => n + r.count, 0);
    const [all, onA, onB] = [await total(''), await total(`&node=${A}`), await total(`&node=${B}`)];
    assert.ok(onA > 0 && onB > 0, 'both nodes carried mail');
    assert.equal(onA + onB, all);
    assert.ok(fieldsOf((await get(`/reports/top/sender?node=${encodeURIComponent('../x y')}`)).json()).includes('query.node'));
    const bad = await get('/reports/top/everything');
    assert.equal(bad.statusCode, 400);
    assert.ok(fieldsOf(bad.json()).includes('params.kind'));
  });

  test(`${engine}: GET /reports/top/virus and the SPF/DKIM/DMARC failure kinds: from the reasons in the log, JSON and CSV`, { skip: engineSkip(engine) }, async (t) => {
    const { get, database } = await start(engine, t);
    const C = 'cccccccccccccccc';
    const auth = (spf: string, dkim: string, dmarc: string) => [
      { kind: 'analyzer' as const, rule: 'auth.spf', match: spf },
      { kind: 'analyzer' as const, rule: 'auth.dkim', match: dkim },
      { kind: 'analyzer' as const, rule: 'auth.dmarc', match: dmarc },
    ];
    await ingestInto(database).ingestBatch(C, [
      event(1, 'message.logged', logged(11, { action: 'quarantine', reasons: [{ kind: 'virus', rule: 'virus', match: 'Eicar-Signature', action: 'quarantine' }, ...auth('pass a.test', 'none', 'none')] })),
      event(2, 'message.logged', logged(12, { action: 'quarantine', reasons: [{ kind: 'virus', rule: 'virus', match: '=cmd|calc', action: 'quarantine' }] })),
      event(3, 'message.logged', logged(13, { reasons: [{ kind: 'virus', rule: 'virus', match: 'Eicar-Signature', action: 'reject' }, ...auth('fail Spoof.test', 'fail spoof.test', 'fail spoof.test p=reject')] })),
      event(4, 'message.logged', logged(14, { reasons: auth('softfail spoof.test', 'pass other.test', 'fail spoof.test') })),
    ]);
    const rows = async (kind: string) => (await get(`/reports/top/${kind}?from=${T0}`)).json().rows;
    assert.deepEqual(await rows('virus'), [{ value: 'Eicar-Signature', count: 2 }, { value: '=cmd|calc', count: 1 }]);
    assert.deepEqual(await rows('spf_fail'), [{ value: 'spoof.test', count: 2 }]);
    assert.deepEqual(await rows('dkim_fail'), [{ value: 'spoof.test', count: 1 }]);
    assert.deepEqual(await rows('dmarc_fail'), [{ value: 'spoof.test', count: 2 }]);
    const csv = await get(`/reports/top/virus?from=${T0}&format=csv`);
    assert.match(String(csv.headers['content-disposition']), /filename="moat-top-virus-/);
    assert.equal(csv.body, 'value,count\r\nEicar-Signature,2\r\n\'=cmd|calc,1\r\n', 'a virus name is untrusted text: formulas neutralised');
  });

  test(`${engine}: GET /reports/quarantine as JSON and CSV`, { skip: engineSkip(engine) }, async (t) => {
    const { get } = await start(engine, t);
    assert.deepEqual((await get('/reports/quarantine')).json(), {
      count: 2, bytes: 2008,
      nodes: [{ nodeId: A, nodeName: 'scanner-a', count: 1, bytes: 1003 }, { nodeId: B, nodeName: null, count: 1, bytes: 1005 }],
    });
    const csv = await get('/reports/quarantine?format=csv');
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(String(csv.headers['content-disposition']), /^attachment; filename="moat-quarantine-[0-9TZ]+\.csv"$/);
    assert.equal(csv.body, `nodeId,nodeName,count,bytes\r\n${A},scanner-a,1,1003\r\n${B},,1,1005\r\n`);
  });
}
