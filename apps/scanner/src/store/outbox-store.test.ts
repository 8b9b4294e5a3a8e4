import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase, type Db } from '@moat/storage';
import { SCANNER_MIGRATIONS } from './migrations.ts';
import { createOutboxStore } from './outbox-store.ts';

const write = (db: Db, n: number) => {
  for (let i = 0; i < n; i++) db.prepare("INSERT INTO outbox (type, payload, created_at) VALUES ('message.logged', '{}', 1)").run();
};

test('every start is a new epoch; events keep the epoch of the run that wrote them, across a restored copy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
  try {
    const path = join(dir, 'scanner.sqlite');
    let db = openDatabase(path, SCANNER_MIGRATIONS);
    const first = createOutboxStore(db);
    assert.match(first.epoch, /^[0-9a-f]{16}$/);
    write(db, 3);
    db.close();
    copyFileSync(path, join(dir, 'backup.sqlite')); // the backup: seqs 1..3 pending

    db = openDatabase(path, SCANNER_MIGRATIONS);
    const second = createOutboxStore(db);
    assert.notEqual(second.epoch, first.epoch);
    write(db, 2);
    assert.deepEqual(second.pending(10).map((e) => [e.epoch, e.seq]), [[first.epoch, 1], [first.epoch, 2], [first.epoch, 3], [second.epoch, 4], [second.epoch, 5]]);
    second.acknowledge(5);
    db.close();

    // Restored: seqs 4 and 5 are written again, but by a run the master has never seen.
    copyFileSync(join(dir, 'backup.sqlite'), path);
    db = openDatabase(path, SCANNER_MIGRATIONS);
    const third = createOutboxStore(db);
    write(db, 2);
    assert.deepEqual(third.pending(10).map((e) => [e.epoch, e.seq]), [[first.epoch, 1], [first.epoch, 2], [first.epoch, 3], [third.epoch, 4], [third.epoch, 5]]);
    third.acknowledge(5);
    db.close();

    // A run that wrote nothing leaves nothing behind; runs no pending event belongs to are pruned.
    db = openDatabase(path, SCANNER_MIGRATIONS);
    createOutboxStore(db);
    const fifth = createOutboxStore(db);
    assert.deepEqual(db.prepare('SELECT from_seq, epoch FROM outbox_epochs').all(), [{ from_seq: 6, epoch: fifth.epoch }]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events written before the scanner had epochs go without one', () => {
  const db = openDatabase(':memory:', SCANNER_MIGRATIONS.filter((m) => m.version < 3));
  write(db, 1);
  migrate(db, SCANNER_MIGRATIONS); // the upgrade, with an event still pending
  const store = createOutboxStore(db);
  write(db, 1);
  assert.deepEqual(store.pending(10).map((e) => [e.epoch, e.seq]), [[undefined, 1], [store.epoch, 2]]);
});
