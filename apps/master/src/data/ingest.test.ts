import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutboxEvent } from '@moat/protocol';
import { migrate, openDatabase } from '@moat/storage';
import { DATA_MIGRATION } from '../db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '../db/migration-003-cluster.ts';
import { RETENTION_MIGRATION } from '../db/migration-004-retention.ts';
import { REFUSALS_MIGRATION } from '../db/migration-008-refusals.ts';
import { EVENT_EPOCHS_MIGRATION } from '../db/migration-012-event-epochs.ts';
import { TOP_BY_NODE_MIGRATION } from '../db/migration-015-top-by-node.ts';
import { createIngest } from './ingest.ts';
import { getMessage } from './messages-repository.ts';
import { top } from './reports.ts';
import { addNode, count, delivery, event, logged, msgId, openTestDb, quarantined, T0 } from './test-fixtures.ts';


const NODE = '0123456789abcdef';

function messageEvents(fromSeq: number, toSeq: number): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (let s = fromSeq; s <= toSeq; s++) out.push(event(s, 'message.logged', logged(s)));
  return out;
}

test('the same batch twice is stored once', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  const batch = messageEvents(1, 20);
  assert.deepEqual(ingestBatch(NODE, batch), { upToSeq: 20, stored: 20, duplicates: 0, rejected: [], rewound: [] });
  assert.deepEqual(ingestBatch(NODE, batch), { upToSeq: 20, stored: 0, duplicates: 20, rejected: [], rewound: [] });
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 20);
  assert.equal(count(db, 'SELECT COUNT(*) FROM events'), 20);
  assert.equal(count(db, 'SELECT SUM(count) FROM traffic_hourly'), 20);
  assert.equal(count(db, "SELECT SUM(count) FROM top_senders_daily WHERE kind = 'sender'"), 20);
  assert.equal(count(db, 'SELECT COUNT(*) FROM message_rcpts'), 20);
});

test('overlapping batches store each event once; seqs are per node', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  assert.equal(ingestBatch(NODE, messageEvents(1, 10)).stored, 10);
  assert.deepEqual(ingestBatch(NODE, messageEvents(6, 15)), { upToSeq: 15, stored: 5, duplicates: 5, rejected: [], rewound: [] });
  // The same seqs from another node are other events (and other messages: ids are per node).
  assert.equal(ingestBatch('fedcba9876543210', messageEvents(1, 15)).stored, 15);
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 30);
  assert.equal(count(db, 'SELECT SUM(count) FROM traffic_hourly'), 30);
});

test('events out of order, inside a batch and across batches, end in the same state', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  // Inside one batch: the delivery (seq 2) is listed before the message it is about (seq 1).
  ingestBatch(NODE, [event(2, 'delivery.status', delivery(1, 1)), event(1, 'message.logged', logged(1))]);
  // Across batches: the newer batch first.
  ingestBatch(NODE, [event(6, 'delivery.status', delivery(3, 2, { delivered: [], bounced: ['rcpt3@example.test'] })), event(7, 'quarantine.changed', { id: msgId(4), status: 'released', at: T0 + 9 })]);
  ingestBatch(NODE, [event(5, 'delivery.status', delivery(3, 1, { delivered: [], deferred: ['rcpt3@example.test'] }))]);
  ingestBatch(NODE, [
    event(3, 'message.logged', logged(3)),
    event(4, 'message.logged', logged(4, { action: 'quarantine', status: 'quarantined' })),
    event(8, 'quarantine.added', quarantined(4)),
  ]);
  const status = (n: number) => db.prepare('SELECT status FROM messages WHERE id = ?').pluck().get(msgId(n));
  assert.equal(status(1), 'delivered');
  assert.equal(status(3), 'bounced');
  assert.equal(db.prepare('SELECT attempts FROM messages WHERE id = ?').pluck().get(msgId(3)), 2);
  assert.equal(db.prepare('SELECT status FROM quarantine WHERE id = ?').pluck().get(msgId(4)), 'released');
  assert.equal(count(db, 'SELECT COUNT(*) FROM pending_changes'), 0);
  assert.equal(count(db, 'SELECT COUNT(*) FROM events'), 8);
});

test('an invalid payload is rejected and recorded; the rest of the batch is stored', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  const bad = { ...logged(2), rcptTo: 'not-a-list' };
  const batch = [event(1, 'message.logged', logged(1)), event(2, 'message.logged', bad), event(3, 'no.such', {}), event(4, 'message.logged', logged(4))];
  const result = ingestBatch(NODE, batch);
  assert.equal(result.upToSeq, 4);
  assert.equal(result.stored, 2);
  assert.deepEqual(result.rejected.map((r) => r.seq), [2, 3]);
  assert.match(result.rejected[0]!.reason, /rcptTo/);
  assert.match(result.rejected[1]!.reason, /unknown event type/);
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 2);
  assert.equal(count(db, 'SELECT COUNT(*) FROM events WHERE rejected IS NOT NULL'), 2);
  // Re-sent (the ack was lost): everything, the rejected ones included, is a duplicate now.
  assert.deepEqual(ingestBatch(NODE, batch), { upToSeq: 4, stored: 0, duplicates: 4, rejected: [], rewound: [] });
});

test('a batch is one transaction: a failure stores none of it', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  ingestBatch(NODE, messageEvents(1, 2));
  db.exec('DROP TABLE traffic_hourly');
  assert.throws(() => createIngest(db).ingestBatch(NODE, messageEvents(3, 5)));
  assert.equal(count(db, 'SELECT COUNT(*) FROM events'), 2);
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 2);
});

test('upToSeq moves the node\'s last acked seq forward only, when the node is registered', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  assert.equal(ingestBatch('unregistered0000', messageEvents(1, 1)).upToSeq, 1);
  addNode(db, NODE, 'scanner-1');
  ingestBatch(NODE, messageEvents(1, 9));
  ingestBatch(NODE, messageEvents(3, 4));
  assert.equal(db.prepare('SELECT last_acked_seq FROM nodes WHERE id = ?').pluck().get(NODE), 9);
  assert.deepEqual(ingestBatch(NODE, []), { upToSeq: 0, stored: 0, duplicates: 0, rejected: [], rewound: [] });
});

test('a second log entry for the same message id does not count twice', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  ingestBatch(NODE, [event(1, 'message.logged', logged(1)), event(2, 'message.logged', logged(1))]);
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 1);
  assert.equal(count(db, 'SELECT SUM(count) FROM traffic_hourly'), 1);
});

test('addresses are stored lower-cased, recipients de-duplicated', () => {
  const db = openTestDb();
  createIngest(db).ingestBatch(NODE, [event(1, 'message.logged', logged(1, { mailFrom: 'Bob@Sender.TEST', rcptTo: ['A@example.test', 'a@example.test', 'b@example.test'] }))]);
  const row = db.prepare('SELECT mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count FROM messages').get();
  assert.deepEqual(row, { mail_from: 'bob@sender.test', sender_domain: 'sender.test', rcpt_to: '["a@example.test","b@example.test"]', first_rcpt: 'a@example.test', rcpt_count: 2 });
});

test('retention: a logged copy links to its entry; retained.expired marks it gone once, with why', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  ingestBatch(NODE, [
    event(1, 'message.logged', logged(1, { retainedBytes: 1234 })),
    event(2, 'message.logged', logged(2)),
    event(3, 'message.logged', logged(3, { retainedBytes: 99 })),
  ]);
  const row = (n: number) => db.prepare('SELECT retained_bytes AS bytes, retained_gone_at AS at, retained_gone_reason AS reason FROM messages WHERE id = ?').get(msgId(n));
  assert.deepEqual(row(1), { bytes: 1234, at: null, reason: null });
  assert.deepEqual(row(2), { bytes: null, at: null, reason: null });
  const r = ingestBatch(NODE, [event(4, 'retained.expired', { ids: [msgId(1), msgId(2)], reason: 'budget', at: T0 + 5 }), event(5, 'retained.expired', { ids: [msgId(1), msgId(3)], reason: 'age', at: T0 + 9 })]);
  assert.equal(r.stored, 2);
  assert.deepEqual(row(1), { bytes: 1234, at: T0 + 5, reason: 'budget' }, 'the first removal stands');
  assert.deepEqual(row(2), { bytes: null, at: null, reason: null }, 'never kept: nothing to mark');
  assert.deepEqual(row(3), { bytes: 99, at: T0 + 9, reason: 'age' });
  // A removal re-sent ahead of its log entry waits for it.
  ingestBatch(NODE, [event(9, 'retained.expired', { ids: [msgId(8)], reason: 'age', at: T0 + 20 })]);
  assert.equal(count(db, 'SELECT COUNT(*) FROM pending_changes'), 1);
  ingestBatch(NODE, [event(8, 'message.logged', logged(8, { retainedBytes: 10 }))]);
  assert.deepEqual(row(8), { bytes: 10, at: T0 + 20, reason: 'age' });
  assert.equal(count(db, 'SELECT COUNT(*) FROM pending_changes'), 0);
  const bad = ingestBatch(NODE, [event(6, 'retained.expired', { ids: ['../x'], reason: 'age', at: 1 }), event(7, 'retained.expired', { ids: [msgId(3)], reason: 'whim', at: 1 })]);
  assert.equal(bad.rejected.length, 2);
});

test('a refused transaction (message.logged with a refusal) is stored with it, and the roll-ups count every refusal it stands for', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  const refusal = { stage: 'connect' as const, reply: '554 5.7.1 Access denied', count: 990, firstAt: T0, lastAt: T0 + 5 };
  const entry = logged(1, { mailFrom: '', rcptTo: [], subject: '', size: 0, action: 'reject', status: 'refused', refusal });
  assert.equal(ingestBatch(NODE, [event(1, 'message.logged', entry), event(2, 'message.logged', logged(2))]).stored, 2);
  const detail = getMessage(db, NODE, msgId(1));
  assert.deepEqual(detail?.refusal, refusal);
  assert.equal(detail?.status, 'refused');
  assert.equal(getMessage(db, NODE, msgId(2))?.refusal, null, 'a received message has none');
  assert.equal(count(db, "SELECT SUM(count) FROM traffic_hourly WHERE action = 'reject'"), 990 + (logged(2).action === 'reject' ? 1 : 0));
  assert.equal(count(db, "SELECT COUNT(*) FROM top_senders_daily WHERE kind IN ('sender', 'blocked_sender') AND value = ''"), 0, 'no sender at connect');
  const bad = ingestBatch(NODE, [event(3, 'message.logged', { ...logged(3), refusal: { ...refusal, stage: 'data' } })]);
  assert.equal(bad.rejected.length, 1, 'a refusal that does not fit the schema is refused');
  assert.match(bad.rejected[0]!.reason, /refusal/);
});

// ── epochs: a scanner restored from a backup or a snapshot numbers its outbox again ──
const RUN_A = 'aaaaaaaaaaaaaaaa';
const RUN_B = 'bbbbbbbbbbbbbbbb';
const inRun = (epoch: string, events: OutboxEvent[]): OutboxEvent[] => events.map((e) => ({ ...e, epoch }));

test('a restored scanner reuses seqs in a new run: its new events are stored, not taken for re-sends', () => {
  const db = openTestDb();
  const { ingestBatch } = createIngest(db);
  assert.equal(ingestBatch(NODE, inRun(RUN_A, messageEvents(1, 10))).stored, 10);
  // Restored from a backup taken at seq 5: seqs 6.. again, in a new run, for other messages.
  const after = inRun(RUN_B, [6, 7, 8].map((s) => event(s, 'message.logged', logged(100 + s))));
  assert.deepEqual(ingestBatch(NODE, after), { upToSeq: 8, stored: 3, duplicates: 0, rejected: [], rewound: [] });
  // Its re-send after a lost ack, and a re-send of the old run's events, are skipped.
  assert.equal(ingestBatch(NODE, after).duplicates, 3);
  assert.equal(ingestBatch(NODE, inRun(RUN_A, messageEvents(4, 10))).duplicates, 7);
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 13);
});

test('a sequence that goes backwards within one run is stored, counted and reported', () => {
  const db = openTestDb();
  const ingest = createIngest(db);
  addNode(db, NODE, 'scanner-1');
  ingest.ingestBatch(NODE, inRun(RUN_A, messageEvents(1, 5)));
  // A live process whose disk went back (a VM snapshot with memory): same run, seqs 4.. again.
  const r = ingest.ingestBatch(NODE, inRun(RUN_A, [4, 5, 6].map((s) => event(s, 'message.logged', logged(200 + s)))));
  assert.equal(r.stored, 3);
  assert.deepEqual(r.rewound, [{ epoch: RUN_A, seq: 4 }, { epoch: RUN_A, seq: 5 }]);
  assert.equal(count(db, 'SELECT COUNT(*) FROM messages'), 8);
  const w = ingest.warnings().get(NODE);
  assert.deepEqual(w && { rewound: w.rewound, lastEpoch: w.lastEpoch, lastSeq: w.lastSeq }, { rewound: 2, lastEpoch: RUN_A, lastSeq: 5 });
  // Re-sent, they are duplicates now (and no new warning).
  assert.equal(ingest.ingestBatch(NODE, inRun(RUN_A, [4, 5, 6].map((s) => event(s, 'message.logged', logged(200 + s))))).duplicates, 3);
  assert.equal(ingest.warnings().get(NODE)?.rewound, 2);
});

test('events stored before migration 012 (no epoch, no digest) still match their re-sends', () => {
  const db = openDatabase(':memory:', [DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, REFUSALS_MIGRATION]);
  db.prepare("INSERT INTO events (node_id, seq, type, created_at, stored_at) VALUES (?, 1, 'message.logged', 0, 0)").run(NODE);
  migrate(db, [EVENT_EPOCHS_MIGRATION, TOP_BY_NODE_MIGRATION]);
  assert.deepEqual(db.prepare('SELECT node_id, epoch, seq, digest FROM events').all(), [{ node_id: NODE, epoch: '', seq: 1, digest: '' }]);
  const r = createIngest(db).ingestBatch(NODE, [event(1, 'message.logged', logged(1)), event(2, 'message.logged', logged(2))]);
  assert.deepEqual({ stored: r.stored, duplicates: r.duplicates }, { stored: 1, duplicates: 1 });
});

test('top-list counts from before migration 015 stay in the cluster\'s lists and in no node\'s; new ones carry their node', () => {
  const db = openDatabase(':memory:', [DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, REFUSALS_MIGRATION, EVENT_EPOCHS_MIGRATION]);
  db.prepare("INSERT INTO top_senders_daily (kind, day, value, count) VALUES ('sender', ?, 'old@origin.test', 5)").run(T0);
  migrate(db, [TOP_BY_NODE_MIGRATION]);
  addNode(db, NODE, 'scanner-1');
  createIngest(db).ingestBatch(NODE, [event(1, 'message.logged', logged(1, { mailFrom: 'new@origin.test' }))]);
  const range = { kind: 'sender' as const, from: T0, to: T0 + 1, limit: 10 };
  assert.deepEqual(top(db, range).map((r) => r.value), ['old@origin.test', 'new@origin.test']);
  assert.deepEqual(top(db, { ...range, node: 'scanner-1' }).map((r) => r.value), ['new@origin.test']);
});
