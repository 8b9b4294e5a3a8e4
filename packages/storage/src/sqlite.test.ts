import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from './sqlite.ts';

test('migrations apply once, in order, and survive reopening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-sqlite-'));
  const file = join(dir, 'db.sqlite');
  const migrations = [
    { version: 2, description: 'add column', sql: 'ALTER TABLE t ADD COLUMN b TEXT' },
    { version: 1, description: 'create', sql: 'CREATE TABLE t (a INTEGER)' },
  ];
  const db = openDatabase(file, migrations);
  assert.equal(db.pragma('user_version', { simple: true }), 2);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.prepare('INSERT INTO t (a, b) VALUES (1, ?)').run('x');
  db.close();
  const again = openDatabase(file, migrations);
  assert.deepEqual(again.prepare('SELECT a, b FROM t').all(), [{ a: 1, b: 'x' }]);
  again.close();
});

test('a failing migration leaves the schema at the previous version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-sqlite-'));
  const file = join(dir, 'db.sqlite');
  openDatabase(file, [{ version: 1, description: 'create', sql: 'CREATE TABLE t (a INTEGER)' }]).close();
  assert.throws(() =>
    openDatabase(file, [
      { version: 1, description: 'create', sql: 'CREATE TABLE t (a INTEGER)' },
      { version: 2, description: 'broken', sql: 'CREATE TABLE u (a INTEGER); SELECT * FROM nope' },
    ]),
  );
  const db = openDatabase(file, [{ version: 1, description: 'create', sql: 'CREATE TABLE t (a INTEGER)' }]);
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'u'").all(), []);
  db.close();
});

// Security review (issue 18): the databases were created 0644 under the usual umask 022.
test('a database and its -wal and -shm files are readable by their owner only; an old 0644 file is tightened', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-sqlite-mode-'));
  const previous = process.umask(0o022);
  try {
    const file = join(dir, 'new.sqlite');
    const db = openDatabase(file, [{ version: 1, description: 't', sql: 'CREATE TABLE t (x)' }]);
    db.prepare('INSERT INTO t VALUES (1)').run();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    db.close();

    const old = join(dir, 'old.sqlite');
    writeFileSync(old, '');
    chmodSync(old, 0o644);
    openDatabase(old, []).close();
    assert.equal(statSync(old).mode & 0o777, 0o600);
  } finally {
    process.umask(previous);
  }
});
