import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuarantineAdded } from '@moat/protocol';
import { createIngest } from './ingest.ts';
import { buildQuarantineSearch, getQuarantined, markQuarantine, searchQuarantine, type QuarantineSearch } from './quarantine-repository.ts';
import { FTS_LIST_CAP, subjectStrategy } from './subject-search.ts';
import { addNode, event, msgId, openTestDb, quarantined, T0 } from './test-fixtures.ts';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

/** 40 entries over two nodes; every 5th released, every 8th deleted. */
function setup() {
  const db = openTestDb();
  addNode(db, B, 'scanner-b');
  const { ingestBatch } = createIngest(db);
  const rows: { node: string; q: QuarantineAdded; status: string; rid: number }[] = [];
  const seq = { [A]: 0, [B]: 0 };
  for (let n = 1; n <= 40; n++) {
    const node = n <= 20 ? A : B;
    const q = quarantined(n, {
      mailFrom: `Spammer${n % 4}@bad${n % 2}.test`,
      rcptTo: [`victim${n % 3}@example.test`, ...(n % 9 === 0 ? ['boss@example.test'] : [])],
      subject: n % 6 === 0 ? `Ünïcode Prize "winner" ${n}` : `Cheap pills ${n}`,
    });
    ingestBatch(node, [event(++seq[node], 'quarantine.added', q)]);
    let status = 'held';
    if (n % 8 === 0) status = 'deleted';
    else if (n % 5 === 0) status = 'released';
    if (status !== 'held') ingestBatch(node, [event(++seq[node], 'quarantine.changed', { id: q.id, status, at: T0 })]);
    rows.push({ node, q, status, rid: n });
  }
  return { db, rows };
}

function expected(rows: ReturnType<typeof setup>['rows'], q: QuarantineSearch): string[] {
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

test('searchQuarantine: each filter and combinations match the reference (held by default)', () => {
  const { db, rows } = setup();
  for (const q of QUERIES) assert.deepEqual(searchQuarantine(db, { ...q, limit: 500 }).items.map((i) => i.id), expected(rows, q), JSON.stringify(q));
});

test('searchQuarantine: keyset pages cover the result exactly once', () => {
  const { db, rows } = setup();
  for (const q of [{ status: 'all' as const }, { subject: 'pills' }, { recipient: 'victim1@example.test', status: 'all' as const }]) {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = searchQuarantine(db, { ...q, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, expected(rows, q), JSON.stringify(q));
  }
});

test('the status index does not drive a search narrowed by an address or subject', () => {
  const { db } = setup();
  const plan = (q: QuarantineSearch) => {
    const { sql, params } = buildQuarantineSearch(q);
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');
  };
  assert.match(plan({}), /quarantine_status/);
  assert.match(plan({ status: 'all' }), /quarantine_created/);
  assert.match(plan({ sender: 'x@y.test' }), /quarantine_sender /);
  assert.match(plan({ subject: 'invoice' }), /quarantine_fts/);
  assert.doesNotMatch(plan({ subject: 'invoice' }), /quarantine_status/);
});

test('getQuarantined finds an entry by id on any node, with its node', () => {
  const { db } = setup();
  const q = getQuarantined(db, msgId(30));
  assert.equal(q?.nodeId, B);
  assert.equal(q?.nodeName, 'scanner-b');
  assert.equal(q?.file, `${msgId(30)}.eml`);
  assert.equal(q?.status, 'released');
  assert.deepEqual(q?.rcptTo, ['victim0@example.test']);
  assert.equal(getQuarantined(db, msgId(99)), undefined);
});

test('markQuarantine only moves forward: held → released → deleted', () => {
  const { db } = setup();
  const id = msgId(1);
  assert.equal(markQuarantine(db, A, id, 'held'), false);
  assert.equal(markQuarantine(db, A, id, 'released', 5), true);
  assert.equal(markQuarantine(db, A, id, 'released', 6), false);
  assert.equal(getQuarantined(db, id)?.statusAt, 5);
  assert.equal(markQuarantine(db, A, id, 'deleted', 7), true);
  assert.equal(markQuarantine(db, A, id, 'released', 8), false);
  assert.equal(getQuarantined(db, id)?.status, 'deleted');
  assert.equal(markQuarantine(db, B, id, 'deleted'), false, 'wrong node');
  // The scanner's own event arriving after the master's mark changes nothing.
  createIngest(db).ingestBatch(A, [event(100, 'quarantine.changed', { id, status: 'released', at: 9 })]);
  assert.equal(getQuarantined(db, id)?.status, 'deleted');
});

test('both subject strategies find the same rows; the choice follows how common the term is', () => {
  const { db } = setup();
  for (const q of QUERIES.filter((x) => x.subject !== undefined && /^[\x00-\x7f]*$/.test(x.subject))) {
    const run = (strategy: 'index' | 'scan') => {
      const { sql, params } = buildQuarantineSearch({ ...q, limit: 500 }, strategy);
      return (db.prepare(sql).all(...params) as { id: string }[]).map((r) => r.id);
    };
    assert.deepEqual(run('scan'), run('index'), JSON.stringify(q));
  }
  assert.equal(subjectStrategy(db, 'quarantine_fts', 'pills'), 'index');
  assert.equal(subjectStrategy(db, 'quarantine_fts', 'ab'), 'scan');
  assert.equal(subjectStrategy(db, 'quarantine_fts', 'Ünï'), 'index');
  const { ingestBatch } = createIngest(db);
  ingestBatch(A, Array.from({ length: FTS_LIST_CAP }, (_, i) => event(1000 + i, 'quarantine.added', quarantined(1000 + i, { subject: `Cheap pills ${i}` }))));
  assert.equal(subjectStrategy(db, 'quarantine_fts', 'pills'), 'scan');
  assert.equal(subjectStrategy(db, 'quarantine_fts', 'prize'), 'index');
  const page = searchQuarantine(db, { subject: 'PILLS', limit: 5 });
  assert.deepEqual(page.items.map((i) => i.subject), ['Cheap pills 1999', 'Cheap pills 1998', 'Cheap pills 1997', 'Cheap pills 1996', 'Cheap pills 1995']);
});
