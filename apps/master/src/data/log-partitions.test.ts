import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { OutboxEvent } from '@moat/protocol';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createIngest } from './ingest.ts';
import { dayOf, listLogPartitions, partitionSuffix } from './log-partitions.ts';
import { pruneMessageLog } from './log-retention.ts';
import { getMessage, searchMessages } from './messages-repository.ts';
import { addNode, count, delivery, event, logged, msgId, openDatabaseBefore, T0 } from './test-fixtures.ts';
import { DAY_MS } from './time-buckets.ts';

const NODE = 'aaaaaaaaaaaaaaaa';
const DAYS = 5;
const PER_DAY = 4;
/** A clock on the last day of the data: "today" and "tomorrow" are made ahead from it. */
const NOW = T0 + (DAYS - 1) * DAY_MS + 3_600_000;

/** PER_DAY messages on each of DAYS days from T0 (a day start), message n at day ⌊(n-1)/PER_DAY⌋, n minutes into it. */
function logEvents(): OutboxEvent[] {
  return Array.from({ length: DAYS * PER_DAY }, (_, i) => {
    const n = i + 1;
    const day = Math.floor(i / PER_DAY);
    return event(n, 'message.logged', logged(n, { receivedAt: T0 + day * DAY_MS + n * 60_000, rcptTo: [`rcpt${n % 2}@example.test`] }));
  });
}

for (const engine of ENGINES) {
  const skip = engineSkip(engine);

  test(`${engine}: messages of several days land in their day's partition; search, recipient search and look-up by id span them`, { skip }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODE, 'scanner-a');
    const ingest = createIngest(db, engine, { now: () => NOW });
    await ingest.ingestBatch(NODE, logEvents());

    const partitions = await listLogPartitions(db, engine);
    if (engine === 'postgres') {
      // Every day of the data, and tomorrow made ahead.
      assert.deepEqual(partitions.map((p) => p.day), Array.from({ length: DAYS + 1 }, (_, d) => T0 + d * DAY_MS));
      assert.equal(partitions[0]!.messages, `messages_p${partitionSuffix(T0)}`);
      for (const p of partitions.slice(0, DAYS)) {
        assert.equal(await count(db, `SELECT COUNT(*) FROM ${p.messages}`), PER_DAY, `${p.messages} holds its day's messages`);
        assert.equal(await count(db, `SELECT COUNT(*) FROM ${p.messages} WHERE received_at < ${p.day} OR received_at >= ${p.day + DAY_MS}`), 0);
        assert.equal(await count(db, `SELECT COUNT(*) FROM ${p.rcpts}`), PER_DAY);
      }
      assert.equal(await count(db, 'SELECT COUNT(*) FROM message_ids'), DAYS * PER_DAY);
    } else {
      assert.deepEqual(partitions, [], 'SQLite keeps one table');
    }
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), DAYS * PER_DAY);

    // Newest first across every day, one page after another.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await searchMessages(db, engine, { limit: 3, ...(cursor && { cursor }) });
      seen.push(...page.items.map((m) => m.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, Array.from({ length: DAYS * PER_DAY }, (_, i) => msgId(DAYS * PER_DAY - i)));
    const byRcpt = await searchMessages(db, engine, { recipient: 'rcpt1@example.test', limit: 500 });
    assert.deepEqual(byRcpt.items.map((m) => m.id), seen.filter((id) => Number(id.slice(1)) % 2 === 1));
    const bySubject = await searchMessages(db, engine, { subject: 'number 1', limit: 500 });
    assert.deepEqual(bySubject.items.map((m) => m.id).sort(), [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((n) => msgId(n)).sort());

    // The oldest day's message, by id; then a delivery status for it finds it in its partition.
    assert.equal((await getMessage(db, NODE, msgId(1)))?.receivedAt, T0 + 60_000);
    await ingest.ingestBatch(NODE, [event(DAYS * PER_DAY + 1, 'delivery.status', delivery(1, 1))]);
    const old = await getMessage(db, NODE, msgId(1));
    assert.equal(old?.status, 'delivered');
    assert.deepEqual(old?.delivery.delivered, ['rcpt1@example.test']);
    assert.equal(await getMessage(db, NODE, msgId(999)), undefined);
  });

  test(`${engine}: retention drops whole day partitions (PostgreSQL) or rows (SQLite), with their recipients and ids; a boundary inside a day deletes that day's earlier rows`, { skip }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODE, 'scanner-a');
    const ingest = createIngest(db, engine, { now: () => NOW });
    await ingest.ingestBatch(NODE, logEvents());

    // Before the third day: the first two days go.
    const whole = await pruneMessageLog(db, engine, T0 + 2 * DAY_MS);
    assert.deepEqual(whole, engine === 'postgres' ? { partitionsDropped: 2, rowsDeleted: 0 } : { partitionsDropped: 0, rowsDeleted: 2 * PER_DAY });
    if (engine === 'postgres') assert.equal((await listLogPartitions(db, engine))[0]!.day, T0 + 2 * DAY_MS);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), (DAYS - 2) * PER_DAY);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM message_rcpts'), (DAYS - 2) * PER_DAY);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM message_ids'), (DAYS - 2) * PER_DAY);
    assert.equal(await getMessage(db, NODE, msgId(1)), undefined);
    assert.equal((await getMessage(db, NODE, msgId(2 * PER_DAY + 1)))?.id, msgId(2 * PER_DAY + 1));
    if (engine === 'sqlite') assert.equal(await count(db, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH '\"number\"'"), (DAYS - 2) * PER_DAY, 'the subject index lost the deleted rows');
    if (engine === 'sqlite') {
      for (const [fts, term] of [['messages_sender_fts', 'user'], ['messages_rcpt_fts', 'example.test']]) {
        assert.equal(await count(db, `SELECT COUNT(*) FROM ${fts} WHERE ${fts} MATCH '"${term}"'`), (DAYS - 2) * PER_DAY, `${fts} lost the deleted rows`);
      }
    }
    const left = Array.from({ length: (DAYS - 2) * PER_DAY }, (_, i) => msgId(DAYS * PER_DAY - i));
    assert.deepEqual((await searchMessages(db, engine, { sender: 'USER', match: 'contains', limit: 500 })).items.map((m) => m.id), left);
    assert.deepEqual((await searchMessages(db, engine, { recipient: 'rcpt', match: 'contains', limit: 500 })).items.map((m) => m.id), left);

    // Inside the third day, after its first two messages (at minutes 9 and 10).
    const cut = T0 + 2 * DAY_MS + 10 * 60_000;
    assert.deepEqual(await pruneMessageLog(db, engine, cut), { partitionsDropped: 0, rowsDeleted: 1 });
    assert.equal(await getMessage(db, NODE, msgId(9)), undefined);
    assert.equal((await getMessage(db, NODE, msgId(10)))?.id, msgId(10));
    assert.equal(await count(db, 'SELECT COUNT(*) FROM message_ids'), (DAYS - 2) * PER_DAY - 1);

    // A late message for a dropped day: its partition is made again.
    await ingest.ingestBatch(NODE, [event(100, 'message.logged', logged(100, { receivedAt: T0 + 5_000 }))]);
    assert.equal((await getMessage(db, NODE, msgId(100)))?.receivedAt, T0 + 5_000);
  });
}

test('postgres: migration 22 moves an existing log into day partitions in one step: rows, recipients, ids, and rids go on after them', { skip: engineSkip('postgres') }, async (t) => {
  const { database, migrateRest } = await openDatabaseBefore('postgres', 22, t);
  const { db } = database;
  const row = (rid: number, n: number, at: number) => sql`INSERT INTO messages (rid, node_id, id, received_at, client_ip, helo, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count,
    subject, message_id, size, action, score, reasons, rules_version, status) OVERRIDING SYSTEM VALUE VALUES (${rid}, ${NODE}, ${msgId(n)}, ${at}, '192.0.2.1', 'h', 'a@b.test', 'b.test',
    '["r@example.test"]', 'r@example.test', 1, ${`old ${n}`}, '<x>', 10, 'deliver', 1, '[]', 1, 'queued')`.execute(db);
  await addNode(db, NODE, 'scanner-a');
  const times = [T0 + 1_000, T0 + 2_000, T0 + 3 * DAY_MS + 5, T0 - DAY_MS + 7];
  for (const [i, at] of times.entries()) {
    await row(10 + i, i + 1, at);
    await sql`INSERT INTO message_rcpts (rcpt, received_at, rid) VALUES ('r@example.test', ${at}, ${10 + i})`.execute(db);
  }
  await migrateRest();

  const partitions = await listLogPartitions(db, 'postgres');
  assert.deepEqual(partitions.map((p) => p.day), [...new Set(times.map(dayOf))].sort((a, b) => a - b));
  assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), times.length);
  assert.equal(await count(db, 'SELECT COUNT(*) FROM message_rcpts'), times.length);
  assert.equal(await count(db, 'SELECT COUNT(*) FROM message_ids'), times.length);
  assert.equal(await count(db, `SELECT COUNT(*) FROM ${partitions[1]!.messages}`), 2, 'the two messages of T0\'s day are in its partition');
  assert.equal(await count(db, "SELECT COUNT(*) FROM pg_class WHERE relname LIKE '%unpartitioned'"), 0);
  assert.equal((await getMessage(db, NODE, msgId(4)))?.subject, 'old 4');
  assert.equal((await searchMessages(db, 'postgres', { recipient: 'r@example.test' })).items.length, times.length);

  // The next message gets a rid past the moved ones, and a second entry of a moved id is still a no-op.
  await createIngest(db, 'postgres').ingestBatch(NODE, [event(1, 'message.logged', logged(50)), event(2, 'message.logged', logged(1, { subject: 'again' }))]);
  assert.equal(await count(db, `SELECT rid FROM messages WHERE id = '${msgId(50)}'`), 14);
  assert.equal((await getMessage(db, NODE, msgId(1)))?.subject, 'old 1');
});

test('postgres: two masters ingesting the first messages of a new day at once both store them: one makes the day\'s partitions, the other finds them', { skip: engineSkip('postgres') }, async (t) => {
  const database = await openTestDatabase('postgres', t);
  const { db } = database;
  await addNode(db, NODE, 'scanner-a');
  await addNode(db, 'bbbbbbbbbbbbbbbb', 'scanner-b');
  const day = T0 + 40 * DAY_MS;
  // Two ingests (each with its own memory of made days, as two masters have) on two pooled connections.
  const [a, b] = [createIngest(db, 'postgres', { now: () => NOW }), createIngest(db, 'postgres', { now: () => NOW })];
  for (let round = 0; round < 5; round++) {
    const at = day + round * DAY_MS;
    const results = await Promise.all([
      a.ingestBatch(NODE, [event(round + 1, 'message.logged', logged(round + 1, { receivedAt: at + 1 }))]),
      b.ingestBatch('bbbbbbbbbbbbbbbb', [event(round + 1, 'message.logged', logged(round + 1, { receivedAt: at + 2 }))]),
    ]);
    assert.deepEqual(results.map((r) => r.stored), [1, 1], `round ${round}: both batches stored`);
  }
  const days = (await listLogPartitions(db, 'postgres')).map((p) => p.day);
  for (let round = 0; round < 5; round++) assert.ok(days.includes(day + round * DAY_MS));
  assert.equal(await count(db, `SELECT COUNT(*) FROM messages WHERE received_at >= ${day}`), 10);
});
