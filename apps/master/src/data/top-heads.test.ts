import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { top, topBySum } from './reports.ts';
import { createRollups, TOP_KINDS, type TopKind } from './rollups.ts';
import { addNode, seededRandom } from './test-fixtures.ts';
import { DAY_MS } from './time-buckets.ts';
import { daysToHead, headDay, refreshTopHeads, topFromHeads, TOP_HEAD_SIZE } from './top-heads.ts';

const NODES = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc'];
const TODAY = Date.UTC(2026, 11, 6);
const NOW = TODAY + 15 * 3_600_000;
const DAYS = 12;

/** `n` messages through the ingest's roll-ups, `days` days up to today; senders skewed (index ~ senders·u^power) unless power is 1. */
async function mail(db: Kysely<MasterSchema>, o: { n: number; seed: number; senders: number; power: number; fromDay: number; days: number }): Promise<void> {
  const r = seededRandom(o.seed);
  await db.transaction().execute(async (tx) => {
    const rollups = createRollups(tx);
    for (let i = 0; i < o.n; i++) {
      const s = Math.floor(o.senders * r() ** o.power);
      const action = r() < 0.2 ? 'reject' : 'deliver';
      const virus = r() < 0.1 ? [{ kind: 'virus', rule: 'virus', match: `Virus.${Math.floor(8 * r() ** 2)}` }] : [];
      rollups.add({
        nodeId: NODES[Math.floor(r() * NODES.length)]!, receivedAt: o.fromDay + Math.floor(r() * o.days * DAY_MS), action, size: 1000,
        mailFrom: `s${s}@d${s % 40}.test`, senderDomain: `d${s % 40}.test`, recipients: [`u${Math.floor(60 * r() ** 2)}@example.test`], reasons: virus,
      });
    }
    await rollups.flush();
  });
}

async function loaded(engine: Engine, t: TestContext, power = 3) {
  const database = await openTestDatabase(engine, t);
  for (const [i, id] of NODES.entries()) await addNode(database.db, id, `scanner-${i}`);
  await mail(database.db, { n: 12_000, seed: 1, senders: 3_000, power, fromDay: TODAY - (DAYS - 1) * DAY_MS, days: DAYS });
  return database.db;
}

const range = (kind: TopKind, days: number, limit = 10, node?: string) => ({ kind, fromDay: TODAY - (days - 1) * DAY_MS, toDay: TODAY + DAY_MS, limit, ...(node === undefined ? {} : { node }) });
const asQuery = (r: ReturnType<typeof range>) => ({ kind: r.kind, from: r.fromDay, to: r.toDay - 1, limit: r.limit, ...(r.node === undefined ? {} : { node: r.node }) });

for (const engine of ENGINES) {
  test(`${engine}: the heads answer top lists exactly as summing every day does, for every kind, range and node`, { skip: engineSkip(engine) }, async (t) => {
    const db = await loaded(engine, t);
    assert.deepEqual(await refreshTopHeads(db, NOW), Array.from({ length: DAYS - 1 }, (_, i) => TODAY - (i + 1) * DAY_MS), 'every day before today, newest first');
    let settled = 0;
    for (const kind of TOP_KINDS) {
      for (const [days, limit, node] of [[DAYS, 10, undefined], [7, 5, undefined], [DAYS, 3, 'scanner-1'], [1, 10, undefined], [DAYS, 25, NODES[2]]] as const) {
        const r = range(kind, days, limit, node);
        const expected = await topBySum(db, asQuery(r));
        const fromHeads = await topFromHeads(db, r);
        if (fromHeads) {
          settled++;
          assert.deepEqual(fromHeads, expected, `${kind} over ${days} days, ${limit}, node ${node}`);
        }
        assert.deepEqual(await top(db, asQuery(r)), expected, `top(): ${kind} over ${days} days`);
      }
    }
    assert.ok(settled >= 15, `the heads settled most lists of skewed mail (${settled} of ${TOP_KINDS.length * 5})`);
    const senders = await topFromHeads(db, range('sender', DAYS));
    assert.ok(senders && senders.length === 10, 'the senders of skewed mail are settled by the heads');
  });

  test(`${engine}: a head records at most ${TOP_HEAD_SIZE} values per day, node and kind, and the first count left out`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODES[0]!, 'scanner-0');
    const day = TODAY - DAY_MS;
    await db.transaction().execute(async (tx) => {
      const rollups = createRollups(tx);
      // Sender i sends i + 1 messages (i = 0 … 249): the head keeps the 200 busiest, and the 201st sent 50.
      for (let i = 0; i < 250; i++) for (let k = 0; k <= i; k++) rollups.add({ nodeId: NODES[0]!, receivedAt: day + 1000, action: 'deliver', size: 1, mailFrom: `s${i}@x.test`, senderDomain: 'x.test', recipients: [], reasons: [] });
      await rollups.flush();
    });
    await headDay(db, day);
    const head = await db.selectFrom('top_heads').select(['value', 'count']).where('kind', '=', 'sender').where('day', '=', day).orderBy('count', 'desc').execute();
    assert.equal(head.length, TOP_HEAD_SIZE);
    assert.deepEqual(head[0], { value: 's249@x.test', count: 250 });
    assert.equal(Number(head.at(-1)!.count), 51);
    const floors = await db.selectFrom('top_head_floors').select(['kind', 'floor']).where('day', '=', day).execute();
    assert.deepEqual(floors.map((f) => [f.kind, Number(f.floor)]), [['sender', 50]], 'only the sender list was longer than a head; the domain list holds one value');
    assert.deepEqual((await db.selectFrom('top_head_lists').selectAll().execute()).map((l) => [Number(l.day), l.node_id, Number(l.messages)]), [[day, NODES[0], 31_375]]);
  });

  test(`${engine}: mail arriving after the heads were taken (today, and late for a past day) keeps top lists exact, and the job takes the changed day again`, { skip: engineSkip(engine) }, async (t) => {
    const db = await loaded(engine, t);
    await refreshTopHeads(db, NOW);
    assert.deepEqual(await daysToHead(db, NOW, 31), [], 'nothing left to head');
    // A scanner's queued events for three days ago arrive, with a new busiest sender (and a node new that day).
    const late = TODAY - 3 * DAY_MS;
    await db.transaction().execute(async (tx) => {
      const rollups = createRollups(tx);
      for (let i = 0; i < 400; i++) rollups.add({ nodeId: NODES[i % 3]!, receivedAt: late + i * 1000, action: 'deliver', size: 1, mailFrom: 'late@burst.test', senderDomain: 'burst.test', recipients: ['u1@example.test'], reasons: [] });
      await rollups.flush();
    });
    await mail(db, { n: 3_000, seed: 2, senders: 3_000, power: 3, fromDay: TODAY, days: 1 });
    for (const kind of ['sender', 'recipient'] as const) {
      const r = range(kind, DAYS);
      const fromHeads = await topFromHeads(db, r);
      assert.ok(fromHeads, `${kind}: still settled by the heads, the changed lists read in full`);
      assert.deepEqual(fromHeads, await topBySum(db, asQuery(r)), kind);
    }
    const domains = range('sender_domain', DAYS);
    assert.deepEqual(await top(db, asQuery(domains)), await topBySum(db, asQuery(domains)));
    assert.deepEqual(await daysToHead(db, NOW, 31), [late], 'the day that changed is taken again; today is not');
    await refreshTopHeads(db, NOW);
    assert.deepEqual(await daysToHead(db, NOW, 31), []);
    const r = range('sender', DAYS);
    assert.deepEqual(await topFromHeads(db, r), await topBySum(db, asQuery(r)));
  });

  test(`${engine}: counts too flat for the heads to settle fall back to the sum, with the same answer`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODES[0]!, 'scanner-0');
    // 2,000 senders, one message each per day for four days: every head is full and its floor is 1, like every total.
    await db.transaction().execute(async (tx) => {
      const rollups = createRollups(tx);
      for (let d = 1; d <= 4; d++) for (let i = 0; i < 2_000; i++) rollups.add({ nodeId: NODES[0]!, receivedAt: TODAY - d * DAY_MS + i, action: 'deliver', size: 1, mailFrom: `s${i}@x.test`, senderDomain: 'x.test', recipients: [], reasons: [] });
      await rollups.flush();
    });
    await refreshTopHeads(db, NOW);
    const r = range('sender', 5);
    assert.equal(await topFromHeads(db, r), undefined, 'the heads cannot settle it');
    const expected = await topBySum(db, asQuery(r));
    assert.equal(expected.length, 10);
    assert.deepEqual(await top(db, asQuery(r)), expected);
  });

  test(`${engine}: a value never in a head but just under every floor leads, and the floors see to it that the heads do not answer without it`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODES[0]!, 'scanner-0');
    // Heads of 3: each day three senders of its own send 10 each and 'steady' sends 9, every day (the floor). Over four days steady leads with 36.
    await db.transaction().execute(async (tx) => {
      const rollups = createRollups(tx);
      const send = (day: number, from: string, n: number) => { for (let i = 0; i < n; i++) rollups.add({ nodeId: NODES[0]!, receivedAt: day + i, action: 'deliver', size: 1, mailFrom: from, senderDomain: 'x.test', recipients: [], reasons: [] }); };
      for (let d = 1; d <= 4; d++) {
        for (let k = 0; k < 3; k++) send(TODAY - d * DAY_MS, `day${d}-${k}@x.test`, 10);
        send(TODAY - d * DAY_MS, 'steady@x.test', 9);
      }
      await rollups.flush();
    });
    await refreshTopHeads(db, NOW, { headSize: 3 });
    const r = range('sender', 5, 3);
    assert.equal(await topFromHeads(db, r), undefined, 'the floors (9 a day) could add up past every candidate');
    assert.deepEqual((await top(db, asQuery(r))).map((x) => [x.value, Number(x.count)]), [['steady@x.test', 36], ['day1-0@x.test', 10], ['day1-1@x.test', 10]]);
  });

  test(`${engine}: equal counts at the cut are left to the sum, which orders them by the database's collation`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODES[0]!, 'scanner-0');
    await db.transaction().execute(async (tx) => {
      const rollups = createRollups(tx);
      const send = (from: string, n: number) => { for (let i = 0; i < n; i++) rollups.add({ nodeId: NODES[0]!, receivedAt: TODAY - DAY_MS + i, action: 'deliver', size: 1, mailFrom: from, senderDomain: 'x.test', recipients: [], reasons: [] }); };
      send('b@x.test', 5);
      send('a@x.test', 5);
      send('c@x.test', 9);
      await rollups.flush();
    });
    await refreshTopHeads(db, NOW);
    assert.equal(await topFromHeads(db, range('sender', 2, 2)), undefined, 'a tie at the second place');
    assert.deepEqual((await top(db, asQuery(range('sender', 2, 2)))).map((x) => x.value), ['c@x.test', 'a@x.test']);
    assert.deepEqual((await topFromHeads(db, range('sender', 2, 1)))?.map((x) => [x.value, Number(x.count)]), [['c@x.test', 9]], 'no tie at the first place: settled');
  });

  test(`${engine}: without heads (before the job's first run) top lists sum`, { skip: engineSkip(engine) }, async (t) => {
    const db = await loaded(engine, t);
    const r = range('sender', DAYS);
    assert.equal(await topFromHeads(db, r), undefined);
    assert.deepEqual(await top(db, asQuery(r)), await topBySum(db, asQuery(r)));
  });
}
