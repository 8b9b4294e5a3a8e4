import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { QuarantineAdded } from '@moat/protocol';
import type { Engine } from '../db/database.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { textTerms } from './search-filters.ts';
import { buildQuarantineSearch, getQuarantined, markQuarantine, searchQuarantine, type QuarantineSearch } from './quarantine-repository.ts';
import { FTS_LIST_CAP, textStrategy } from './text-search.ts';
import { addNode, event, ingestInto, msgId, quarantined, T0 } from './test-fixtures.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

/** 40 entries over two nodes; every 5th released, every 8th deleted. */
async function setup(engine: Engine, t: TestContext) {
  const database = await openTestDatabase(engine, t);
  const { db } = database;
  await addNode(db, B, 'scanner-b');
  const { ingestBatch } = ingestInto(database);
  const rows: { node: string; q: QuarantineAdded; status: string; rid: number }[] = [];
  const seq = { [A]: 0, [B]: 0 };
  for (let n = 1; n <= 40; n++) {
    const node = n <= 20 ? A : B;
    const q = quarantined(n, {
      // LIKE's wildcards in some addresses: a contains search must take them literally.
      mailFrom: n % 7 === 0 ? `Promo_Mail%${n % 4}@bad${n % 2}.test` : `Spammer${n % 4}@bad${n % 2}.test`,
      rcptTo: [`victim${n % 3}@example.test`, ...(n % 9 === 0 ? ['boss@example.test'] : [])],
      subject: n % 6 === 0 ? `Ünïcode Prize "winner" ${n}` : `Cheap pills ${n}`,
    });
    await ingestBatch(node, [event(++seq[node], 'quarantine.added', q)]);
    let status = 'held';
    if (n % 8 === 0) status = 'deleted';
    else if (n % 5 === 0) status = 'released';
    if (status !== 'held') await ingestBatch(node, [event(++seq[node], 'quarantine.changed', { id: q.id, status, at: T0 })]);
    rows.push({ node, q, status, rid: n });
  }
  return { database, db, rows, search: (q: QuarantineSearch) => searchQuarantine(db, engine, q) };
}

function expected(rows: Awaited<ReturnType<typeof setup>>['rows'], q: QuarantineSearch): string[] {
  const exact = (q.match ?? 'exact') === 'exact';
  const addr = (value: string, w: string) => {
    const v = value.toLowerCase();
    w = w.toLowerCase();
    return !exact ? v.includes(w) : w.startsWith('@') ? v.endsWith(w) : v === w;
  };
  return rows
    .filter((r) =>
      ((q.status ?? 'held') === 'all' || r.status === (q.status ?? 'held')) &&
      (q.sender === undefined || addr(r.q.mailFrom, q.sender)) &&
      (q.recipient === undefined || r.q.rcptTo.some((x) => addr(x, q.recipient!))) &&
      (q.subject === undefined || r.q.subject.toLowerCase().includes(q.subject.toLowerCase())) &&
      (q.node === undefined || r.node === q.node || (q.node === 'scanner-b' && r.node === B)) &&
      (q.from === undefined || r.q.createdAt >= q.from) &&
      (q.to === undefined || r.q.createdAt < q.to))
    .sort((x, y) => y.q.createdAt - x.q.createdAt || y.rid - x.rid)
    .map((r) => r.q.id);
}

const QUERIES: QuarantineSearch[] = [
  {},
  { status: 'all' },
  { status: 'released' },
  { status: 'deleted' },
  { sender: 'spammer1@bad1.test' },
  { sender: '@bad0.test', status: 'all' },
  { sender: 'MMER2', match: 'contains' },
  { sender: 'ammer', match: 'contains', status: 'all' },
  { sender: 'bad1.test', match: 'contains' },
  { sender: 'o_m', match: 'contains', status: 'all' },
  { sender: 'L%1', match: 'contains', status: 'all' },
  { sender: 'pro%', match: 'contains', status: 'all' },
  { sender: 'o%m', match: 'contains', status: 'all' },
  { sender: '_', match: 'contains', status: 'all' },
  { sender: '2@', match: 'contains' },
  { sender: 'nobody', match: 'contains' },
  { recipient: 'VICTIM', match: 'contains' },
  { recipient: 'ss@example', match: 'contains', status: 'all' },
  { recipient: 'm1', match: 'contains' },
  { sender: 'ammer', recipient: 'victim2', match: 'contains', subject: 'pills' },
  { recipient: 'victim0@example.test' },
  { recipient: 'boss@example.test', status: 'all' },
  { recipient: '@example.test' },
  { subject: 'prize' },
  { subject: 'ÜNÏCODE' },
  { subject: '"winner"' },
  { subject: 'pi' },
  { subject: '1' },
  { node: 'scanner-b' },
  { node: A, status: 'all' },
  { from: T0 + 5 * 60_000, to: T0 + 25 * 60_000 },
  { subject: 'pills', sender: '@bad1.test', node: B },
];

for (const engine of ENGINES) {
  test(`${engine}: searchQuarantine: each filter and combinations match the reference (held by default)`, { skip: engineSkip(engine) }, async (t) => {
    const { rows, search } = await setup(engine, t);
    for (const q of QUERIES) assert.deepEqual((await search({ ...q, limit: 500 })).items.map((i) => i.id), expected(rows, q), JSON.stringify(q));
  });

  test(`${engine}: searchQuarantine: keyset pages cover the result exactly once`, { skip: engineSkip(engine) }, async (t) => {
    const { rows, search } = await setup(engine, t);
    for (const q of [{ status: 'all' as const }, { subject: 'pills' }, { recipient: 'victim1@example.test', status: 'all' as const }]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await search({ ...q, limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((i) => i.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, expected(rows, q), JSON.stringify(q));
    }
  });

  // SQLite's planner, which takes the indexes' order as its hint; PostgreSQL weighs them by its statistics.
  if (engine === 'sqlite') test(`${engine}: the status index does not drive a search narrowed by an address or subject`, async (t) => {
    const { database, db } = await setup(engine, t);
    const plan = (q: QuarantineSearch) => {
      const { sql, parameters } = buildQuarantineSearch(engine, q).query.compile(db);
      return (database.sqlite!.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[]).map((r) => r.detail).join(' | ');
    };
    assert.match(plan({}), /quarantine_status/);
    assert.match(plan({ status: 'all' }), /quarantine_created/);
    assert.match(plan({ sender: 'x@y.test' }), /quarantine_sender /);
    assert.match(plan({ subject: 'invoice' }), /quarantine_fts/);
    assert.doesNotMatch(plan({ subject: 'invoice' }), /quarantine_status/);
    // The address trigram index drives a sender or recipient substring search and a recipient domain search.
    for (const [q, fts] of [[{ sender: 'ammer', match: 'contains' }, 'sender'], [{ recipient: 'victim', match: 'contains' }, 'rcpt'], [{ recipient: '@example.test' }, 'rcpt']] as const) {
      assert.match(plan(q), new RegExp(`SCAN quarantine_${fts}_fts VIRTUAL TABLE`), JSON.stringify(q));
      assert.match(plan(q), /SEARCH q USING INTEGER PRIMARY KEY \(rowid=\?\)/, JSON.stringify(q));
      assert.doesNotMatch(plan(q), /quarantine_status/, JSON.stringify(q));
    }
    // A term too short for it walks the time index.
    assert.doesNotMatch(plan({ sender: 'am', match: 'contains' }), /_fts/);
  });

  test(`${engine}: getQuarantined finds an entry by id on any node, with its node`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await setup(engine, t);
    const q = await getQuarantined(db, msgId(30));
    assert.equal(q?.nodeId, B);
    assert.equal(q?.nodeName, 'scanner-b');
    assert.equal(q?.file, `${msgId(30)}.eml`);
    assert.equal(q?.status, 'released');
    assert.deepEqual(q?.rcptTo, ['victim0@example.test']);
    assert.equal(await getQuarantined(db, msgId(99)), undefined);
  });

  test(`${engine}: markQuarantine only moves forward: held → released → deleted`, { skip: engineSkip(engine) }, async (t) => {
    const { database, db } = await setup(engine, t);
    const id = msgId(1);
    assert.equal(await markQuarantine(db, A, id, 'held'), false);
    assert.equal(await markQuarantine(db, A, id, 'released', 5), true);
    assert.equal(await markQuarantine(db, A, id, 'released', 6), false);
    assert.equal((await getQuarantined(db, id))?.statusAt, 5);
    assert.equal(await markQuarantine(db, A, id, 'deleted', 7), true);
    assert.equal(await markQuarantine(db, A, id, 'released', 8), false);
    assert.equal((await getQuarantined(db, id))?.status, 'deleted');
    assert.equal(await markQuarantine(db, B, id, 'deleted'), false, 'wrong node');
    // The scanner's own event arriving after the master's mark changes nothing.
    await ingestInto(database).ingestBatch(A, [event(100, 'quarantine.changed', { id, status: 'released', at: 9 })]);
    assert.equal((await getQuarantined(db, id))?.status, 'deleted');
  });

  test(`${engine}: both text strategies find the same rows; the choice follows how common the term is`, { skip: engineSkip(engine) }, async (t) => {
    const { database, db, search } = await setup(engine, t);
    // The index and the scan of every substring term (subject, sender and recipient contains, recipient domain); a
    // recipient containing `"` finds every row by the JSON text's quotes, as the scan always did.
    const terms = [...QUERIES, { recipient: '"', match: 'contains', status: 'all' } as const].filter((x) => textTerms(x).length > 0 && /^[\x00-\x7f]*$/.test(x.subject ?? ''));
    assert.ok(terms.length >= 20);
    for (const q of terms) {
      const run = async (strategy: 'index' | 'scan') => (await buildQuarantineSearch(engine, { ...q, limit: 500 }, strategy).query.execute(db)).rows.map((r) => r.id);
      assert.deepEqual(await run('scan'), await run('index'), JSON.stringify(q));
    }
    // On SQLite the strategy follows how common the term is; PostgreSQL's planner makes that choice itself (text-search.ts).
    const strategy = async (subject: string) => (await textStrategy(db, engine, 'quarantine', 'subject', subject)).strategy;
    const sqliteOnly = (s: 'index' | 'scan') => (engine === 'sqlite' ? s : 'index');
    assert.equal(await strategy('pills'), 'index');
    assert.equal(await strategy('ab'), 'scan');
    assert.equal(await strategy('Ünï'), 'index');
    await ingestInto(database).ingestBatch(A, Array.from({ length: FTS_LIST_CAP }, (_, i) => event(1000 + i, 'quarantine.added', quarantined(1000 + i, { subject: `Cheap pills ${i}`, mailFrom: `X${i}@Bulk.test` }))));
    assert.equal(await strategy('pills'), sqliteOnly('scan'));
    assert.equal(await strategy('prize'), 'index');
    const page = await search({ subject: 'PILLS', limit: 5 });
    assert.deepEqual(page.items.map((i) => i.subject), ['Cheap pills 1999', 'Cheap pills 1998', 'Cheap pills 1997', 'Cheap pills 1996', 'Cheap pills 1995']);
    // The same for an address: the FTS_LIST_CAP entries above all came from one domain.
    const senderStrategy = async (term: string) => (await textStrategy(db, engine, 'quarantine', 'sender', term)).strategy;
    assert.equal(await senderStrategy('bulk.test'), sqliteOnly('scan'));
    assert.equal(await senderStrategy('spammer'), 'index');
    assert.equal(await senderStrategy('sp'), 'scan');
    const bulk = await search({ sender: 'BULK.TEST', match: 'contains', limit: 3 });
    assert.deepEqual(bulk.items.map((i) => i.mailFrom), ['x1999@bulk.test', 'x1998@bulk.test', 'x1997@bulk.test']);
    // A rare address among them: the index is asked for its rarest trigrams, not those of the domain every entry has.
    const rare = await textStrategy(db, engine, 'quarantine', 'sender', 'x1999@bulk');
    if (engine === 'sqlite') {
      assert.equal(rare.strategy, 'index');
      assert.equal(rare.trigrams?.length, 3);
      assert.equal(rare.trigrams?.[0], '999', 'in two addresses: x999 and x1999');
      for (const common of ['@bu', 'bul', 'ulk']) assert.ok(!rare.trigrams?.includes(common), common);
    }
    assert.deepEqual((await search({ sender: 'X1999@BULK', match: 'contains' })).items.map((i) => i.mailFrom), ['x1999@bulk.test']);
  });
}
