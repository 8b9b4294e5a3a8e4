import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Db } from '@moat/storage';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { sqliteDatabase } from '../db/database.ts';
import { createIngest } from '../data/ingest.ts';
import { addNode, event, logged, quarantined } from '../data/test-fixtures.ts';
import { installChangeCapture, replicatedTables, setCapture } from './change-capture.ts';
import { canContinue, createChangeLog } from './change-log.ts';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createApplier, readSnapshot, streamSnapshot, ReplicationGapError } from './change-apply.ts';

function masterDb(): Db {
  return openDatabase(':memory:', MASTER_MIGRATIONS);
}

function activeDb(): Db {
  const db = masterDb();
  installChangeCapture(db);
  setCapture(db, true);
  db.prepare('UPDATE repl_state SET epoch = 1').run();
  return db;
}

/** Every replicated table's rows, sorted, as text: two databases with the same state give the same dump. */
function dump(db: Db): string {
  return replicatedTables(db).map((t) => `${t.name}:${JSON.stringify(db.prepare(`SELECT * FROM "${t.name}" ORDER BY ${t.key.map((k) => `"${k}"`).join(', ')}`).all())}`).join('\n');
}

async function write(db: Db): Promise<void> {
  const kdb = sqliteDatabase(db).db;
  await addNode(kdb, 'n1', 'scanner-1');
  await createIngest(kdb, 'sqlite').ingestBatch('n1', [
    event(1, 'message.logged', logged(1)),
    event(2, 'message.logged', logged(2, { action: 'quarantine', subject: 'QUARANTINE-ME please' })),
    event(3, 'quarantine.added', quarantined(2, { subject: 'QUARANTINE-ME please' })),
  ]);
  db.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES ('ann', 'h', 'admin', 1)").run();
  db.prepare("UPDATE users SET role = 'auditor' WHERE username = 'ann'").run();
  db.prepare("DELETE FROM messages WHERE id = ?").run(logged(1).id);
}

test('every change on the active master reaches the standby through the log: same rows, FTS rebuilt, position kept', async () => {
  const a = activeDb();
  const b = masterDb();
  await write(a);
  const log = createChangeLog(a);
  const applied = createApplier(b).apply(log.since(0, 10_000));
  assert.ok(applied > 5);
  assert.equal(dump(b), dump(a));
  assert.equal(createChangeLog(b).state().appliedSeq, log.head().seq);
  // The subject index was rebuilt beside the rows (FTS5 tables take no triggers).
  const hit = b.prepare("SELECT rowid FROM quarantine_fts WHERE subject MATCH '\"QUARANTINE\"'").all();
  assert.equal(hit.length, 1);
  const search = (db: Db, term: string) => db.prepare(`SELECT rowid FROM messages_fts WHERE subject MATCH '"${term}"' ORDER BY rowid`).all();
  assert.deepEqual(search(b, 'please'), search(a, 'please'));
  assert.deepEqual(search(b, 'number'), [], 'the deleted message left the index too');
});

test('applying is idempotent and in order: a resend is skipped, a gap is refused and changes nothing', async () => {
  const a = activeDb();
  const b = masterDb();
  await write(a);
  const changes = createChangeLog(a).since(0, 10_000);
  const applier = createApplier(b);
  applier.apply(changes.slice(0, 4));
  assert.equal(applier.apply(changes.slice(0, 4)), 0, 'a resend applies nothing');
  const before = dump(b);
  assert.throws(() => applier.apply(changes.slice(6)), ReplicationGapError);
  assert.equal(dump(b), before, 'the refused run left nothing behind');
  applier.apply(changes);
  assert.equal(dump(b), dump(a));
});

test('a snapshot copies everything, and the log continues after it', async () => {
  const a = activeDb();
  await write(a);
  const log = createChangeLog(a);
  const b = masterDb();
  b.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES ('stray', 'h', 'admin', 1)").run();
  const applier = createApplier(b);
  applier.beginSnapshot();
  const point = readSnapshot(a, () => log.head(), 2, (t, rows) => applier.snapshotRows(t, rows));
  applier.endSnapshot(point);
  assert.equal(dump(b), dump(a), 'the stray local row is gone, everything else copied');
  a.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES ('bob', 'h', 'auditor', 2)").run();
  applier.apply(log.since(point.seq, 100));
  assert.equal(dump(b), dump(a));
  const s = createChangeLog(b).state();
  assert.ok(canContinue(log, { seq: s.appliedSeq, epoch: s.appliedEpoch, at: s.appliedAt }), 'its position matches the active log');
});

test('log matching: a position continues only where the log holds the same entry', async () => {
  const a = activeDb();
  await write(a);
  const log = createChangeLog(a);
  const head = log.head();
  assert.equal(canContinue(log, head), true);
  assert.equal(canContinue(log, { ...head, epoch: head.epoch + 1 }), false, 'another term at that seq: diverged');
  assert.equal(canContinue(log, { ...head, at: head.at + 1 }), false, 'same epoch, another writer: diverged');
  assert.equal(canContinue(log, { seq: head.seq + 5, epoch: 1, at: 0 }), false, 'ahead of this log');
  assert.equal(canContinue(log, { seq: 0, epoch: 0, at: 0 }), false, 'a new standby gets a snapshot');
  log.pruneBelow(head.seq);
  assert.equal(canContinue(log, { seq: 1, epoch: 1, at: 0 }), false, 'pruned: a snapshot');
});

test('a standby writes nothing to the log; capture off means no entries', async () => {
  const a = masterDb();
  installChangeCapture(a);
  setCapture(a, false);
  a.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES ('x', 'h', 'admin', 1)").run();
  assert.equal(createChangeLog(a).head().seq, 0);
});

test('a snapshot page stays within its byte budget (a frame has a hard cap), one row at least per page', async () => {
  const a = activeDb();
  for (let i = 0; i < 40; i++) a.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, 'auditor', 1)").run(`u${i}`, 'x'.repeat(200));
  const pages: number[] = [];
  readSnapshot(a, () => createChangeLog(a).head(), 1000, (t, rows) => {
    if (t === 'users') pages.push(JSON.stringify(rows).length);
  }, 2000);
  assert.ok(pages.length >= 4, `split into ${pages.length} pages`);
  for (const p of pages) assert.ok(p <= 2000 + 300, `a page of ${p} bytes`);
});

test('a streamed snapshot is one consistent view while the master goes on writing; the log brings the rest', async () => {
  const a = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-snap-')), 'master.sqlite'), MASTER_MIGRATIONS);
  installChangeCapture(a);
  setCapture(a, true);
  await write(a);
  const b = masterDb();
  const applier = createApplier(b);
  applier.beginSnapshot();
  assert.equal(createChangeLog(b).state().copying, true, 'a half-applied copy is marked');
  let pages = 0;
  const point = await streamSnapshot(a, 1, 1 << 20, () => undefined, async (t, rows) => {
    // Writes between pages, on the master's own connection: not in this copy, but in the log after its point.
    a.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, 'h', 'auditor', 3)").run(`during${pages++}`);
    await new Promise((r) => setImmediate(r));
    applier.snapshotRows(t, rows);
  });
  assert.equal((b.prepare("SELECT count(*) n FROM users WHERE username LIKE 'during%'").get() as { n: number }).n, 0, 'the copy is the view at its point');
  assert.ok(pages > 5, 'the master wrote between pages');
  applier.endSnapshot(point);
  assert.equal(createChangeLog(b).state().copying, false);
  applier.apply(createChangeLog(a).since(point.seq, 10_000));
  assert.equal(dump(b), dump(a));
  a.close();
});

test('a master that wrote changes nobody got undoes them (old rows kept in its log) and continues from the new active master, without a full copy', async () => {
  const a = activeDb();
  const b = masterDb();
  await write(a);
  const bApplier = createApplier(b);
  bApplier.apply(createChangeLog(a).since(0, 10_000));
  // master-a goes on alone: an insert, an update, a delete, none of which reach master-b.
  a.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES ('lost', 'h', 'admin', 5)").run();
  a.prepare("UPDATE users SET role = 'admin', password_hash = 'changed' WHERE username = 'ann'").run();
  a.prepare("DELETE FROM quarantine").run();
  // master-b takes over (epoch 2) and writes its own.
  installChangeCapture(b);
  b.prepare('UPDATE repl_state SET epoch = 2').run();
  setCapture(b, true);
  b.prepare("INSERT INTO repl_changes (epoch, at, tbl, op) VALUES (2, 99, '', 'mark')").run();
  b.prepare("INSERT INTO users (username, password_hash, role, created_at) VALUES ('kept', 'h', 'auditor', 6)").run();
  b.prepare("UPDATE users SET role = 'admin' WHERE username = 'ann'").run();
  // master-a rejoins as standby: its position is not in master-b's log; its recent places are.
  setCapture(a, false);
  const aLog = createChangeLog(a);
  const bLog = createChangeLog(b);
  const head = aLog.head();
  assert.equal(canContinue(bLog, head), false);
  const point = aLog.recent(100).find((p) => canContinue(bLog, p));
  assert.ok(point, 'a common place exists');
  const aApplier = createApplier(a);
  assert.equal(aApplier.rollbackTo(point), 3, 'its three lone changes undone');
  aApplier.apply(bLog.since(point.seq, 10_000));
  assert.equal(dump(a), dump(b), 'the same state as the new active master');
  const quarantineHit = a.prepare("SELECT rowid FROM quarantine_fts WHERE subject MATCH '\"QUARANTINE\"'").all();
  assert.equal(quarantineHit.length, 1, 'the deleted row is back in the subject index too');
});
