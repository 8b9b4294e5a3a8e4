import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from './sqlite.ts';
import { GroupCommitter } from './group-commit.ts';
import { DirSyncer } from './dir-sync.ts';

test('jobs of one turn share a transaction and each gets its own result', async () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-gc-')), 'db'), [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER UNIQUE)' }]);
  const gc = new GroupCommitter(db);
  const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
  const results = await Promise.all([1, 2, 3].map((a) => gc.run(() => insert.run(a).changes)));
  assert.deepEqual(results, [1, 1, 1]);
  assert.equal((db.prepare('SELECT count(*) n FROM t').get() as { n: number }).n, 3);
  db.close();
});

test('a failing job fails alone; the others of its batch commit', async () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-gc-')), 'db'), [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER UNIQUE)' }]);
  const gc = new GroupCommitter(db);
  const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
  const outcomes = await Promise.allSettled([gc.run(() => insert.run(1)), gc.run(() => insert.run(1)), gc.run(() => insert.run(2))]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(db.prepare('SELECT a FROM t ORDER BY a').all(), [{ a: 1 }, { a: 2 }]);
  db.close();
});

test('concurrent directory syncs coalesce and all resolve', async () => {
  const syncer = new DirSyncer(mkdtempSync(join(tmpdir(), 'moat-ds-')));
  await Promise.all(Array.from({ length: 20 }, () => syncer.sync()));
  await syncer.sync();
});
