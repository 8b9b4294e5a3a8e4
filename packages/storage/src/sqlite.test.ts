import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
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
