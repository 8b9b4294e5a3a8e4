import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { OutboxEvent } from '@moat/protocol';
import type { Engine } from '../db/database.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { quarantineSize, top, traffic } from './reports.ts';
import { topFromLog, trafficFromLog } from './reports-from-log.ts';
import { TOP_KINDS } from './rollups.ts';
import { addNode, count, event, ingestInto, logged, msgId, quarantined, seededRandom, T0 } from './test-fixtures.ts';
import { DAY_MS, HOUR_MS } from './time-buckets.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const ACTIONS = ['deliver', 'tag', 'quarantine', 'reject'] as const;

/** A seeded integer in [0, n): varied data, the same every run. */
function lcg(seed: number) {
  const random = seededRandom(seed);
  return (n: number) => Math.floor(random() * n);
}

const VIRUSES = ['Eicar-Signature', 'Win.Trojan.Agent-1', 'Doc.Malware.Emotet'];
const RESULTS = ['pass', 'fail', 'softfail', 'none', 'temperror'];

/** Authentication results for random domains (mixed case, with and without a DMARC policy), and sometimes a virus. */
function randomReasons(rnd: (n: number) => number) {
  const domain = () => ['Origin.test', 'bad.test', 'spoof.example'][rnd(3)]!;
  const reasons: { kind: 'virus' | 'analyzer' | 'content'; rule: string; match: string }[] = [
    { kind: 'analyzer', rule: 'auth.spf', match: rnd(5) === 0 ? RESULTS[rnd(5)]! : `${RESULTS[rnd(5)]} ${domain()}` },
    { kind: 'analyzer', rule: 'auth.dkim', match: `${RESULTS[rnd(3)]} ${domain()}` },
    { kind: 'analyzer', rule: 'auth.dmarc', match: `${RESULTS[rnd(3)]} ${domain()}${rnd(2) ? ' p=reject' : ''}` },
    { kind: 'content', rule: 'auth.spf', match: 'fail not-a-check.test' },
  ];
  if (rnd(4) === 0) reasons.push({ kind: 'virus', rule: 'virus', match: VIRUSES[rnd(3)]! });
  return reasons;
}

/** A refused transaction as a scanner logs it: sometimes an aggregate standing for many. */
function refusalEntry(rnd: (n: number) => number, i: number, node: string) {
  const stage = (['connect', 'mail', 'rcpt'] as const)[rnd(3)]!;
  const count = rnd(3) === 0 ? 2 + rnd(500) : 1;
  const at = T0 + rnd(3 * DAY_MS);
  return logged(i, {
    id: msgId(i, node === A ? 'A' : 'B'), receivedAt: at, mailFrom: stage === 'connect' ? '' : `s${rnd(8)}@d${rnd(3)}.test`,
    rcptTo: stage === 'rcpt' ? [`user${rnd(6)}@example.test`] : [], subject: '', size: 0, action: 'reject', status: 'refused',
    reasons: [{ kind: stage === 'connect' ? 'ip-list' : 'sender-list', rule: 'x', match: 'y' }],
    refusal: { stage, reply: '550 5.7.1 no', count, firstAt: at, lastAt: at },
  });
}

async function loaded(engine: Engine, t: TestContext, withRefusals = false) {
  const database = await openTestDatabase(engine, t);
  const { db } = database;
  await addNode(db, A, 'scanner-a');
  const rnd = lcg(7);
  const { ingestBatch } = ingestInto(database);
  for (const node of [A, B]) {
    const events: OutboxEvent[] = [];
    for (let i = 1; i <= 400; i++) {
      const rcpts = Array.from({ length: 1 + rnd(3) }, () => `user${rnd(6)}@example.test`);
      if (withRefusals && i % 4 === 0) {
        events.push(event(i, 'message.logged', refusalEntry(rnd, i, node)));
        continue;
      }
      events.push(event(i, 'message.logged', logged(i, {
        id: msgId(i, node === A ? 'A' : 'B'), receivedAt: T0 + rnd(3 * DAY_MS), mailFrom: `s${rnd(8)}@d${rnd(3)}.test`, rcptTo: rcpts,
        action: ACTIONS[rnd(4)]!, size: 100 + rnd(5000), reasons: randomReasons(rnd),
      })));
    }
    // Batches of 50 that overlap, and one sent twice, in shuffled order inside each batch.
    for (let start = 0; start < events.length; start += 40) await ingestBatch(node, events.slice(start, start + 50).reverse());
    await ingestBatch(node, events.slice(100, 150));
  }
  return db;
}

for (const engine of ENGINES) {
  test(`${engine}: traffic from the roll-ups equals a direct count of the log`, { skip: engineSkip(engine) }, async (t) => {
    const db = await loaded(engine, t);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 800);
    const range = { from: T0 - DAY_MS, to: T0 + 4 * DAY_MS };
    for (const q of [
      { ...range, bucket: 'hour' as const },
      { ...range, bucket: 'day' as const },
      { ...range, bucket: 'day' as const, byNode: true },
      { ...range, bucket: 'hour' as const, node: 'scanner-a' },
      { from: T0 + 5 * HOUR_MS + 17, to: T0 + 30 * HOUR_MS - 5, bucket: 'hour' as const, node: B, byNode: true },
    ]) {
      const rows = await traffic(db, q);
      assert.deepEqual(rows, await trafficFromLog(db, q), JSON.stringify(q));
      assert.ok(rows.length > 0);
    }
    const days = await traffic(db, { ...range, bucket: 'day' });
    assert.equal(days.length, 5, 'zero-filled: every day of the range');
    assert.equal(days[0]!.total, 0);
    assert.equal(days.reduce((a, r) => a + r.total, 0), 800);
    assert.equal(days.reduce((a, r) => a + r.deliver + r.tag + r.quarantine + r.reject, 0), 800);
  });

  test(`${engine}: top lists from the roll-ups equal a direct count of the log`, { skip: engineSkip(engine) }, async (t) => {
    const db = await loaded(engine, t);
    for (const kind of TOP_KINDS) {
      for (const q of [{ kind, from: T0, to: T0 + 3 * DAY_MS, limit: 100 }, { kind, from: T0 + DAY_MS, to: T0 + 2 * DAY_MS, limit: 3 }, { kind, from: T0, to: T0 + 3 * DAY_MS, limit: 100, node: 'scanner-a' }, { kind, from: T0, to: T0 + 3 * DAY_MS, limit: 100, node: B }]) {
        const rows = await top(db, q);
        assert.deepEqual(rows, await topFromLog(db, q), JSON.stringify(q));
        assert.ok(rows.length > 0, JSON.stringify(q));
      }
    }
  });

  test(`${engine}: reasons feed the top lists: virus names, and domains failing SPF (fail, softfail), DKIM, DMARC, once per message`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    const { ingestBatch } = ingestInto(database);
    const reasons = (...r: [string, string, string][]) => r.map(([kind, rule, match]) => ({ kind, rule, match })) as never;
    await ingestBatch(A, [
      event(1, 'message.logged', logged(1, { reasons: reasons(['virus', 'virus', 'Eicar-Signature'], ['analyzer', 'auth.spf', 'fail Bad.test'], ['analyzer', 'auth.dmarc', 'fail bad.test p=reject']) })),
      event(2, 'message.logged', logged(2, { reasons: reasons(['virus', 'virus', 'Eicar-Signature'], ['analyzer', 'auth.spf', 'softfail bad.test'], ['analyzer', 'auth.dkim', 'fail signer.test']) })),
      event(3, 'message.logged', logged(3, { reasons: reasons(['analyzer', 'auth.spf', 'pass good.test'], ['analyzer', 'auth.dkim', 'pass good.test'], ['analyzer', 'auth.dmarc', 'none']) })),
    ]);
    const q = { from: T0, to: T0 + DAY_MS, limit: 10 };
    assert.deepEqual(await top(db, { ...q, kind: 'virus' }), [{ value: 'Eicar-Signature', count: 2 }]);
    assert.deepEqual(await top(db, { ...q, kind: 'spf_fail' }), [{ value: 'bad.test', count: 2 }]);
    assert.deepEqual(await top(db, { ...q, kind: 'dkim_fail' }), [{ value: 'signer.test', count: 1 }]);
    assert.deepEqual(await top(db, { ...q, kind: 'dmarc_fail' }), [{ value: 'bad.test', count: 1 }]);
    for (const kind of ['virus', 'spf_fail', 'dkim_fail', 'dmarc_fail'] as const) assert.deepEqual(await top(db, { ...q, kind }), await topFromLog(db, { ...q, kind }), kind);
  });

  test(`${engine}: the traffic range is capped`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    await assert.rejects(traffic(db, { from: 0, to: 2 * 365 * DAY_MS, bucket: 'hour' }), RangeError);
    assert.equal((await traffic(db, { from: 0, to: 2 * 365 * DAY_MS, bucket: 'day' })).length, 730);
    assert.deepEqual(await traffic(db, { from: 10, to: 10, bucket: 'day' }), []);
  });

  test(`${engine}: quarantineSize counts held messages and their bytes per node`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, A, 'scanner-a');
    const { ingestBatch } = ingestInto(database);
    await ingestBatch(A, [event(1, 'quarantine.added', quarantined(1, { size: 100 })), event(2, 'quarantine.added', quarantined(2, { size: 50 })), event(3, 'quarantine.changed', { id: msgId(2), status: 'released', at: T0 })]);
    await ingestBatch(B, [event(1, 'quarantine.added', quarantined(1, { size: 7 }))]);
    assert.deepEqual(await quarantineSize(db), {
      count: 2, bytes: 107,
      nodes: [{ nodeId: A, nodeName: 'scanner-a', count: 1, bytes: 100 }, { nodeId: B, nodeName: null, count: 1, bytes: 7 }],
    });
    assert.deepEqual(await quarantineSize((await openTestDatabase(engine, t)).db), { count: 0, bytes: 0, nodes: [] });
  });

  test(`${engine}: refused transactions: the roll-ups count each refusal an aggregate stands for, equal to the log-derived reports; a refusal at connect has no sender`, { skip: engineSkip(engine) }, async (t) => {
    const db = await loaded(engine, t, true);
    const rows = { n: await count(db, 'SELECT COUNT(*) FROM messages'), events: await count(db, 'SELECT SUM(event_count) FROM messages') };
    assert.equal(rows.n, 800);
    assert.ok(rows.events > 1000, 'aggregates stand for more events than rows');
    const range = { from: T0 - DAY_MS, to: T0 + 4 * DAY_MS };
    for (const q of [{ ...range, bucket: 'hour' as const }, { ...range, bucket: 'day' as const, byNode: true }]) assert.deepEqual(await traffic(db, q), await trafficFromLog(db, q));
    assert.equal((await traffic(db, { ...range, bucket: 'day' })).reduce((a, r) => a + r.total, 0), rows.events);
    for (const kind of TOP_KINDS) {
      const q = { kind, from: T0, to: T0 + 3 * DAY_MS, limit: 100 };
      assert.deepEqual(await top(db, q), await topFromLog(db, q), kind);
    }
    const blocked = await top(db, { kind: 'blocked_sender', from: T0, to: T0 + 3 * DAY_MS, limit: 100 });
    assert.ok(!blocked.some((r) => r.value === ''), 'connect-stage refusals (no sender) are not a blocked sender');
    const refusedFromSenders = await count(db, "SELECT SUM(event_count) FROM messages WHERE action = 'reject' AND mail_from <> ''");
    assert.equal(blocked.reduce((a, r) => a + r.count, 0), refusedFromSenders);
  });
}
