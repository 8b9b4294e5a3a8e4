import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageLogged, OutboxEvent } from '@moat/protocol';
import type { Engine } from '../db/database.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { textTerms } from './search-filters.ts';
import { buildMessageSearch, getMessage, searchMessages, type MessageSearch } from './messages-repository.ts';
import { addNode, delivery, event, ingestInto, logged, msgId, quarantined, T0 } from './test-fixtures.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const ACTIONS = ['deliver', 'tag', 'quarantine', 'reject'] as const;

/** 60 messages over two nodes; some share a timestamp (the cursor must still be exact). */
function dataset(): { node: string; m: MessageLogged }[] {
  const out: { node: string; m: MessageLogged }[] = [];
  for (let n = 1; n <= 60; n++) {
    const rcptTo = [`R${n % 4}@example.test`, ...(n % 7 === 0 ? ['extra@other.test'] : [])];
    const m = logged(n, {
      receivedAt: T0 + (n % 6 === 0 ? n - 1 : n) * 60_000,
      // LIKE's wildcards in some addresses: a contains search must take them literally.
      mailFrom: n % 11 === 0 ? `Mail_Er%${n % 5}@dom${n % 3}.test` : `User${n % 5}@dom${n % 3}.test`,
      rcptTo,
      subject: n % 10 === 0 ? `Invoice 100%_paid ${n}` : `Hello ${n}`,
      action: ACTIONS[n % 4]!,
      status: n % 4 === 3 ? 'rejected' : 'queued',
    });
    out.push({ node: n % 2 ? A : B, m });
  }
  return out;
}

async function setup(engine: Engine, t: TestContext) {
  const database = await openTestDatabase(engine, t);
  const { db } = database;
  await addNode(db, A, 'scanner-a');
  const data = dataset();
  const { ingestBatch } = ingestInto(database);
  for (const node of [A, B]) {
    const events: OutboxEvent[] = data.filter((d) => d.node === node).map((d, i) => event(i + 1, 'message.logged', d.m));
    await ingestBatch(node, events);
  }
  const search = (q: MessageSearch) => searchMessages(db, engine, q);
  return { database, db, data, search };
}

/** The reference semantics, in plain code. */
function expected(data: { node: string; m: MessageLogged }[], q: MessageSearch): string[] {
  const exact = (q.match ?? 'exact') === 'exact';
  const addr = (value: string, wanted: string) => {
    const v = value.toLowerCase();
    const w = wanted.toLowerCase();
    if (!exact) return v.includes(w);
    return w.startsWith('@') ? v.endsWith(w) : v === w;
  };
  // rid follows insertion order: node A's rows first, then B's.
  const withRid = [...data.filter((d) => d.node === A), ...data.filter((d) => d.node === B)].map((d, rid) => ({ ...d, rid }));
  return withRid
    .filter(({ node, m }) =>
      (q.sender === undefined || addr(m.mailFrom, q.sender)) &&
      (q.recipient === undefined || m.rcptTo.some((r) => addr(r, q.recipient!))) &&
      (q.subject === undefined || m.subject.toLowerCase().includes(q.subject.toLowerCase())) &&
      (q.node === undefined || node === q.node || (q.node === 'scanner-a' && node === A)) &&
      (q.action === undefined || m.action === q.action) &&
      (q.status === undefined || m.status === q.status) &&
      (q.from === undefined || m.receivedAt >= q.from) &&
      (q.to === undefined || m.receivedAt < q.to))
    .sort((x, y) => y.m.receivedAt - x.m.receivedAt || y.rid - x.rid)
    .map(({ m }) => m.id);
}

const QUERIES: MessageSearch[] = [
  {},
  { sender: 'user1@dom1.test' },
  { sender: 'USER1@DOM1.TEST' },
  { sender: '@dom2.test' },
  { sender: 'ser3', match: 'contains' },
  { recipient: 'r2@example.test' },
  { recipient: 'extra@other.test' },
  { recipient: '@other.test' },
  { recipient: 'R1@', match: 'contains' },
  { recipient: 'xtra@oth', match: 'contains' },
  { recipient: 'EXAMPLE.TEST', match: 'contains', action: 'tag' },
  { sender: 'USER', match: 'contains' },
  { sender: 'dom2.test', match: 'contains' },
  { sender: 'l_e', match: 'contains' },
  { sender: 'R%2', match: 'contains' },
  { sender: 'r%', match: 'contains' },
  { sender: 'user%', match: 'contains' },
  { sender: '%', match: 'contains' },
  { sender: 'er1@dom', match: 'contains', recipient: 'r1@', subject: 'hello' },
  { sender: 'nobody', match: 'contains' },
  { subject: '100%_' },
  { subject: 'invoice' },
  { subject: '%' },
  { node: 'scanner-a' },
  { node: B },
  { action: 'reject' },
  { status: 'queued' },
  { from: T0 + 10 * 60_000, to: T0 + 20 * 60_000 },
  { sender: '@dom0.test', recipient: 'r0@example.test', action: 'deliver', node: B },
  { sender: 'nobody@nowhere.test' },
];

for (const engine of ENGINES) {
  test(`${engine}: searchMessages: each filter and combinations match the reference`, { skip: engineSkip(engine) }, async (t) => {
    const { data, search } = await setup(engine, t);
    for (const q of QUERIES) {
      assert.deepEqual((await search({ ...q, limit: 500 })).items.map((i) => i.id), expected(data, q), JSON.stringify(q));
    }
  });

  test(`${engine}: searchMessages: keyset pages cover the result exactly once, newest first`, { skip: engineSkip(engine) }, async (t) => {
    const { data, search } = await setup(engine, t);
    for (const q of [{}, { sender: '@dom1.test' }, { recipient: 'r1@example.test' }, { action: 'tag' }]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await search({ ...q, limit: 4, ...(cursor ? { cursor } : {}) });
        assert.ok(page.items.length <= 4);
        seen.push(...page.items.map((i) => i.id));
        if (!page.next) break;
        cursor = page.next;
      }
      assert.deepEqual(seen, expected(data, q), JSON.stringify(q));
    }
  });

  test(`${engine}: searchMessages: rows carry the node name and list fields; limit is capped`, { skip: engineSkip(engine) }, async (t) => {
    const { search } = await setup(engine, t);
    const [first] = (await search({ node: 'scanner-a', limit: 1 })).items;
    assert.equal(first?.nodeName, 'scanner-a');
    assert.equal(first?.nodeId, A);
    assert.equal((await search({ node: B, limit: 1 })).items[0]?.nodeName, null);
    assert.equal((await search({ limit: 10_000 })).items.length, 60);
    assert.equal(buildMessageSearch(engine, { limit: 10_000 }).limit, 500);
    await assert.rejects(search({ cursor: 'nope' }), RangeError);
  });

  // SQLite's planner, which takes the indexes' order as its hint; PostgreSQL weighs them by its statistics.
  if (engine === 'sqlite') test(`${engine}: search plans use the index meant for them`, async (t) => {
    const { database, db } = await setup(engine, t);
    const plan = (q: MessageSearch, strategy: 'index' | 'scan' = 'index') => {
      const { sql, parameters } = buildMessageSearch(engine, q, strategy).query.compile(db);
      return (database.sqlite!.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[]).map((r) => r.detail).join(' | ');
    };
    assert.match(plan({}), /messages_received/);
    assert.match(plan({ sender: 'a@b.test' }), /messages_sender /);
    assert.match(plan({ sender: '@b.test' }), /messages_sender_domain/);
    assert.match(plan({ recipient: 'a@b.test' }), /r USING PRIMARY KEY/);
    assert.match(plan({ subject: 'invoice' }), /messages_fts/);
    // The address trigram index drives a sender or recipient substring search and a recipient domain search; a term too short for it does not.
    for (const [q, fts] of [[{ sender: 'ser1', match: 'contains' }, 'sender'], [{ recipient: 'xtra@', match: 'contains' }, 'rcpt'], [{ recipient: '@other.test' }, 'rcpt']] as const) {
      assert.match(plan(q), new RegExp(`SCAN messages_${fts}_fts VIRTUAL TABLE`), JSON.stringify(q));
      assert.match(plan(q), /SEARCH m USING INTEGER PRIMARY KEY \(rowid=\?\)/, JSON.stringify(q));
    }
    assert.doesNotMatch(plan({ sender: 'r1', match: 'contains' }), /_fts/);
    assert.doesNotMatch(plan({ sender: 'ser1', match: 'contains', cursor: '1.1' }, 'scan'), /_fts/);
    assert.doesNotMatch(plan({}), /TEMP B-TREE/);
    assert.doesNotMatch(plan({ sender: 'a@b.test', cursor: '1.1' }), /TEMP B-TREE/);
    assert.doesNotMatch(plan({ recipient: 'a@b.test', from: 1, to: 2 }), /TEMP B-TREE/);
  });

  test(`${engine}: both text strategies (subject, address substrings, recipient domain) find the same messages`, { skip: engineSkip(engine) }, async (t) => {
    const { db, search } = await setup(engine, t);
    const terms = QUERIES.filter((x) => textTerms(x).length > 0);
    assert.ok(terms.length >= 15);
    for (const q of terms) {
      const run = async (strategy: 'index' | 'scan') => (await buildMessageSearch(engine, { ...q, limit: 500 }, strategy).query.execute(db)).rows.map((r) => r.id);
      assert.deepEqual(await run('scan'), await run('index'), JSON.stringify(q));
    }
    for (const subject of ['Invoice 100', 'ice 1', 'hello 5']) {
      assert.deepEqual((await search({ subject, limit: 500 })).items.map((i) => i.id), expected(dataset(), { subject }), subject);
    }
  });

  test(`${engine}: getMessage returns everything, with delivery and quarantine state`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await ingestInto(database).ingestBatch(A, [
      event(1, 'message.logged', logged(1, { reasons: [{ kind: 'list', rule: 'allow', match: 'x' }] })),
      event(2, 'delivery.status', delivery(1, 1)),
      event(3, 'message.logged', logged(2, { action: 'quarantine', status: 'quarantined' })),
      event(4, 'quarantine.added', quarantined(2)),
    ]);
    const m = await getMessage(db, A, msgId(1));
    assert.equal(m?.status, 'delivered');
    assert.deepEqual(m?.delivery.delivered, ['rcpt1@example.test']);
    assert.deepEqual(m?.reasons, [{ kind: 'list', rule: 'allow', match: 'x' }]);
    assert.equal(m?.quarantine, null);
    assert.deepEqual((await getMessage(db, A, msgId(2)))?.quarantine, { status: 'held', statusAt: null });
    assert.equal(await getMessage(db, B, msgId(1)), undefined);
  });
}
