import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import assert from 'node:assert/strict';
import type { OutboxEvent } from '@moat/protocol';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import type { Engine } from '../db/database.ts';
import { getMessage } from './messages-repository.ts';
import { top } from './reports.ts';
import { addNode, count, delivery, event, ingestInto, logged, msgId, openDatabaseBefore, quarantined, T0 } from './test-fixtures.ts';

const NODE = '0123456789abcdef';

function messageEvents(fromSeq: number, toSeq: number): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (let s = fromSeq; s <= toSeq; s++) out.push(event(s, 'message.logged', logged(s)));
  return out;
}

// ── epochs: a scanner restored from a backup or a snapshot numbers its outbox again ──
const RUN_A = 'aaaaaaaaaaaaaaaa';
const RUN_B = 'bbbbbbbbbbbbbbbb';
const inRun = (epoch: string, events: OutboxEvent[]): OutboxEvent[] => events.map((e) => ({ ...e, epoch }));

async function open(engine: Engine, t: TestContext) {
  const database = await openTestDatabase(engine, t);
  return { database, db: database.db, ...ingestInto(database) };
}

for (const engine of ENGINES) {
  test(`${engine}: the same batch twice is stored once`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    const batch = messageEvents(1, 20);
    assert.deepEqual(await ingestBatch(NODE, batch), { upToSeq: 20, stored: 20, duplicates: 0, rejected: [], rewound: [] });
    assert.deepEqual(await ingestBatch(NODE, batch), { upToSeq: 20, stored: 0, duplicates: 20, rejected: [], rewound: [] });
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 20);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM events'), 20);
    assert.equal(await count(db, 'SELECT SUM(count) FROM traffic_hourly'), 20);
    assert.equal(await count(db, "SELECT SUM(count) FROM top_senders_daily WHERE kind = 'sender'"), 20);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM message_rcpts'), 20);
  });

  test(`${engine}: the same batch ingested twice at once (two masters, a re-send) is stored once`, { skip: engineSkip(engine) }, async (t) => {
    const { database, db } = await open(engine, t);
    // Two ingests over one database: on PostgreSQL two transactions on two connections, the
    // second waiting on the first's event keys and then finding them taken.
    const batch = [...messageEvents(1, 20), event(21, 'delivery.status', delivery(1, 1))];
    const results = await Promise.all([ingestInto(database).ingestBatch(NODE, batch), ingestInto(database).ingestBatch(NODE, batch)]);
    assert.deepEqual(results.map((r) => r.stored + r.duplicates), [21, 21]);
    assert.equal(results[0]!.stored + results[1]!.stored, 21);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM events'), 21);
    assert.equal(await count(db, 'SELECT SUM(count) FROM traffic_hourly'), 20);
    assert.equal(await count(db, "SELECT attempts FROM messages WHERE status = 'delivered'"), 1);
  });

  test(`${engine}: overlapping batches store each event once; seqs are per node`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    assert.equal((await ingestBatch(NODE, messageEvents(1, 10))).stored, 10);
    assert.deepEqual(await ingestBatch(NODE, messageEvents(6, 15)), { upToSeq: 15, stored: 5, duplicates: 5, rejected: [], rewound: [] });
    // The same seqs from another node are other events (and other messages: ids are per node).
    assert.equal((await ingestBatch('fedcba9876543210', messageEvents(1, 15))).stored, 15);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 30);
    assert.equal(await count(db, 'SELECT SUM(count) FROM traffic_hourly'), 30);
  });

  test(`${engine}: events out of order, inside a batch and across batches, end in the same state`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    // Inside one batch: the delivery (seq 2) is listed before the message it is about (seq 1).
    await ingestBatch(NODE, [event(2, 'delivery.status', delivery(1, 1)), event(1, 'message.logged', logged(1))]);
    // Across batches: the newer batch first.
    await ingestBatch(NODE, [event(6, 'delivery.status', delivery(3, 2, { delivered: [], bounced: ['rcpt3@example.test'] })), event(7, 'quarantine.changed', { id: msgId(4), status: 'released', at: T0 + 9 })]);
    await ingestBatch(NODE, [event(5, 'delivery.status', delivery(3, 1, { delivered: [], deferred: ['rcpt3@example.test'] }))]);
    await ingestBatch(NODE, [
      event(3, 'message.logged', logged(3)),
      event(4, 'message.logged', logged(4, { action: 'quarantine', status: 'quarantined' })),
      event(8, 'quarantine.added', quarantined(4)),
    ]);
    const row = (n: number) => db.selectFrom('messages').select(['status', 'attempts']).where('id', '=', msgId(n)).executeTakeFirst();
    assert.equal((await row(1))?.status, 'delivered');
    assert.deepEqual(await row(3), { status: 'bounced', attempts: 2 });
    assert.equal((await db.selectFrom('quarantine').select('status').where('id', '=', msgId(4)).executeTakeFirst())?.status, 'released');
    assert.equal(await count(db, 'SELECT COUNT(*) FROM pending_changes'), 0);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM events'), 8);
  });

  test(`${engine}: an invalid payload is rejected and recorded; the rest of the batch is stored`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    const bad = { ...logged(2), rcptTo: 'not-a-list' };
    const batch = [event(1, 'message.logged', logged(1)), event(2, 'message.logged', bad), event(3, 'no.such', {}), event(4, 'message.logged', logged(4))];
    const result = await ingestBatch(NODE, batch);
    assert.equal(result.upToSeq, 4);
    assert.equal(result.stored, 2);
    assert.deepEqual(result.rejected.map((r) => r.seq), [2, 3]);
    assert.match(result.rejected[0]!.reason, /rcptTo/);
    assert.match(result.rejected[1]!.reason, /unknown event type/);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 2);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM events WHERE rejected IS NOT NULL'), 2);
    // Re-sent (the ack was lost): everything, the rejected ones included, is a duplicate now.
    assert.deepEqual(await ingestBatch(NODE, batch), { upToSeq: 4, stored: 0, duplicates: 4, rejected: [], rewound: [] });
  });

  test(`${engine}: a batch is one transaction: a failure stores none of it`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    await ingestBatch(NODE, messageEvents(1, 2));
    await sql`DROP TABLE traffic_hourly`.execute(db);
    await assert.rejects(ingestBatch(NODE, messageEvents(3, 5)));
    assert.equal(await count(db, 'SELECT COUNT(*) FROM events'), 2);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 2);
  });

  test(`${engine}: upToSeq moves the node\'s last acked seq forward only, when the node is registered`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    assert.equal((await ingestBatch('unregistered0000', messageEvents(1, 1))).upToSeq, 1);
    await addNode(db, NODE, 'scanner-1');
    await ingestBatch(NODE, messageEvents(1, 9));
    await ingestBatch(NODE, messageEvents(3, 4));
    assert.equal(await count(db, `SELECT last_acked_seq FROM nodes WHERE id = '${NODE}'`), 9);
    assert.deepEqual(await ingestBatch(NODE, []), { upToSeq: 0, stored: 0, duplicates: 0, rejected: [], rewound: [] });
  });

  test(`${engine}: a second log entry for the same message id does not count twice`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    await ingestBatch(NODE, [event(1, 'message.logged', logged(1)), event(2, 'message.logged', logged(1))]);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 1);
    assert.equal(await count(db, 'SELECT SUM(count) FROM traffic_hourly'), 1);
  });

  test(`${engine}: addresses are stored lower-cased, recipients de-duplicated`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    await ingestBatch(NODE, [event(1, 'message.logged', logged(1, { mailFrom: 'Bob@Sender.TEST', rcptTo: ['A@example.test', 'a@example.test', 'b@example.test'] }))]);
    const row = await db.selectFrom('messages').select(['mail_from', 'sender_domain', 'rcpt_to', 'first_rcpt', 'rcpt_count']).executeTakeFirst();
    assert.deepEqual(row, { mail_from: 'bob@sender.test', sender_domain: 'sender.test', rcpt_to: '["a@example.test","b@example.test"]', first_rcpt: 'a@example.test', rcpt_count: 2 });
  });

  test(`${engine}: retention: a logged copy links to its entry; retained.expired marks it gone once, with why`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    await ingestBatch(NODE, [
      event(1, 'message.logged', logged(1, { retainedBytes: 1234 })),
      event(2, 'message.logged', logged(2)),
      event(3, 'message.logged', logged(3, { retainedBytes: 99 })),
    ]);
    const row = (n: number) => db.selectFrom('messages').select(['retained_bytes as bytes', 'retained_gone_at as at', 'retained_gone_reason as reason']).where('id', '=', msgId(n)).executeTakeFirst();
    assert.deepEqual(await row(1), { bytes: 1234, at: null, reason: null });
    assert.deepEqual(await row(2), { bytes: null, at: null, reason: null });
    const r = await ingestBatch(NODE, [event(4, 'retained.expired', { ids: [msgId(1), msgId(2)], reason: 'budget', at: T0 + 5 }), event(5, 'retained.expired', { ids: [msgId(1), msgId(3)], reason: 'age', at: T0 + 9 })]);
    assert.equal(r.stored, 2);
    assert.deepEqual(await row(1), { bytes: 1234, at: T0 + 5, reason: 'budget' }, 'the first removal stands');
    assert.deepEqual(await row(2), { bytes: null, at: null, reason: null }, 'never kept: nothing to mark');
    assert.deepEqual(await row(3), { bytes: 99, at: T0 + 9, reason: 'age' });
    // A removal re-sent ahead of its log entry waits for it.
    await ingestBatch(NODE, [event(9, 'retained.expired', { ids: [msgId(8)], reason: 'age', at: T0 + 20 })]);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM pending_changes'), 1);
    await ingestBatch(NODE, [event(8, 'message.logged', logged(8, { retainedBytes: 10 }))]);
    assert.deepEqual(await row(8), { bytes: 10, at: T0 + 20, reason: 'age' });
    assert.equal(await count(db, 'SELECT COUNT(*) FROM pending_changes'), 0);
    const bad = await ingestBatch(NODE, [event(6, 'retained.expired', { ids: ['../x'], reason: 'age', at: 1 }), event(7, 'retained.expired', { ids: [msgId(3)], reason: 'whim', at: 1 })]);
    assert.equal(bad.rejected.length, 2);
  });

  test(`${engine}: a refused transaction (message.logged with a refusal) is stored with it, and the roll-ups count every refusal it stands for`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    const refusal = { stage: 'connect' as const, reply: '554 5.7.1 Access denied', count: 990, firstAt: T0, lastAt: T0 + 5 };
    const entry = logged(1, { mailFrom: '', rcptTo: [], subject: '', size: 0, action: 'reject', status: 'refused', refusal });
    assert.equal((await ingestBatch(NODE, [event(1, 'message.logged', entry), event(2, 'message.logged', logged(2))])).stored, 2);
    const detail = await getMessage(db, NODE, msgId(1));
    assert.deepEqual(detail?.refusal, refusal);
    assert.equal(detail?.status, 'refused');
    assert.equal((await getMessage(db, NODE, msgId(2)))?.refusal, null, 'a received message has none');
    assert.equal(await count(db, "SELECT SUM(count) FROM traffic_hourly WHERE action = 'reject'"), 990 + (logged(2).action === 'reject' ? 1 : 0));
    assert.equal(await count(db, "SELECT COUNT(*) FROM top_senders_daily WHERE kind IN ('sender', 'blocked_sender') AND value = ''"), 0, 'no sender at connect');
    const bad = await ingestBatch(NODE, [event(3, 'message.logged', { ...logged(3), refusal: { ...refusal, stage: 'data' } })]);
    assert.equal(bad.rejected.length, 1, 'a refusal that does not fit the schema is refused');
    assert.match(bad.rejected[0]!.reason, /refusal/);
  });

  test(`${engine}: a restored scanner reuses seqs in a new run: its new events are stored, not taken for re-sends`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ingestBatch } = await open(engine, t);
    assert.equal((await ingestBatch(NODE, inRun(RUN_A, messageEvents(1, 10)))).stored, 10);
    // Restored from a backup taken at seq 5: seqs 6.. again, in a new run, for other messages.
    const after = inRun(RUN_B, [6, 7, 8].map((s) => event(s, 'message.logged', logged(100 + s))));
    assert.deepEqual(await ingestBatch(NODE, after), { upToSeq: 8, stored: 3, duplicates: 0, rejected: [], rewound: [] });
    // Its re-send after a lost ack, and a re-send of the old run's events, are skipped.
    assert.equal((await ingestBatch(NODE, after)).duplicates, 3);
    assert.equal((await ingestBatch(NODE, inRun(RUN_A, messageEvents(4, 10)))).duplicates, 7);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 13);
  });

  test(`${engine}: a sequence that goes backwards within one run is stored, counted and reported`, { skip: engineSkip(engine) }, async (t) => {
    const { db, ...ingest } = await open(engine, t);
    await addNode(db, NODE, 'scanner-1');
    await ingest.ingestBatch(NODE, inRun(RUN_A, messageEvents(1, 5)));
    // A live process whose disk went back (a VM snapshot with memory): same run, seqs 4.. again.
    const r = await ingest.ingestBatch(NODE, inRun(RUN_A, [4, 5, 6].map((s) => event(s, 'message.logged', logged(200 + s)))));
    assert.equal(r.stored, 3);
    assert.deepEqual(r.rewound, [{ epoch: RUN_A, seq: 4 }, { epoch: RUN_A, seq: 5 }]);
    assert.equal(await count(db, 'SELECT COUNT(*) FROM messages'), 8);
    const w = (await ingest.warnings()).get(NODE);
    assert.deepEqual(w && { rewound: w.rewound, lastEpoch: w.lastEpoch, lastSeq: w.lastSeq }, { rewound: 2, lastEpoch: RUN_A, lastSeq: 5 });
    // Re-sent, they are duplicates now (and no new warning).
    assert.equal((await ingest.ingestBatch(NODE, inRun(RUN_A, [4, 5, 6].map((s) => event(s, 'message.logged', logged(200 + s)))))).duplicates, 3);
    assert.equal((await ingest.warnings()).get(NODE)?.rewound, 2);
  });

  test(`${engine}: events stored before migration 012 (no epoch, no digest) still match their re-sends`, { skip: engineSkip(engine) }, async (t) => {
    const { database, migrateRest } = await openDatabaseBefore(engine, 12, t);
    await sql`INSERT INTO events (node_id, seq, type, created_at, stored_at) VALUES (${NODE}, 1, 'message.logged', 0, 0)`.execute(database.db);
    await migrateRest();
    assert.deepEqual(await database.db.selectFrom('events').select(['node_id', 'epoch', 'seq', 'digest']).execute(), [{ node_id: NODE, epoch: '', seq: 1, digest: '' }]);
    const r = await ingestInto(database).ingestBatch(NODE, [event(1, 'message.logged', logged(1)), event(2, 'message.logged', logged(2))]);
    assert.deepEqual({ stored: r.stored, duplicates: r.duplicates }, { stored: 1, duplicates: 1 });
  });

  test(`${engine}: top-list counts from before migration 015 stay in the cluster\'s lists and in no node\'s; new ones carry their node`, { skip: engineSkip(engine) }, async (t) => {
    const { database, migrateRest } = await openDatabaseBefore(engine, 15, t);
    const { db } = database;
    await sql`INSERT INTO top_senders_daily (kind, day, value, count) VALUES ('sender', ${T0}, 'old@origin.test', 5)`.execute(db);
    await migrateRest();
    await addNode(db, NODE, 'scanner-1');
    await ingestInto(database).ingestBatch(NODE, [event(1, 'message.logged', logged(1, { mailFrom: 'new@origin.test' }))]);
    const range = { kind: 'sender' as const, from: T0, to: T0 + 1, limit: 10 };
    assert.deepEqual((await top(db, range)).map((r) => r.value), ['old@origin.test', 'new@origin.test']);
    assert.deepEqual((await top(db, { ...range, node: 'scanner-1' })).map((r) => r.value), ['new@origin.test']);
  });
}
