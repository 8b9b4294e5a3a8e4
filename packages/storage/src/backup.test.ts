import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from './sqlite.ts';
import { backupDatabase } from './backup.ts';

const MIGRATIONS = [{ version: 1, description: 't', sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)' }];

test('a backup of a live WAL database holds every committed row, while the writer keeps writing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const live = openDatabase(join(dir, 'live.sqlite'), MIGRATIONS);
  const insert = live.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 500; i++) insert.run(`row ${i}`);
  // Still open and in WAL mode: the rows sit in the -wal file, which a plain file copy would miss.
  const writing = setInterval(() => insert.run('during'), 1);
  const { pages } = await backupDatabase(join(dir, 'live.sqlite'), join(dir, 'copy.sqlite'));
  clearInterval(writing);
  assert.ok(pages > 0);
  assert.equal(statSync(join(dir, 'copy.sqlite')).mode & 0o777, 0o600);
  const copy = new Database(join(dir, 'copy.sqlite'), { readonly: true });
  const n = (copy.prepare('SELECT count(*) AS n FROM t WHERE v LIKE ?').get('row %') as { n: number }).n;
  assert.equal(n, 500);
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  assert.equal(copy.pragma('user_version', { simple: true }), 1);
  copy.close();
  live.close();
});

test('a backup never overwrites and names a missing source', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(backupDatabase(join(dir, 'none.sqlite'), join(dir, 'out.sqlite')), /no database at .*none\.sqlite/);
  openDatabase(join(dir, 'a.sqlite'), MIGRATIONS).close();
  writeFileSync(join(dir, 'out.sqlite'), 'keep me');
  await assert.rejects(backupDatabase(join(dir, 'a.sqlite'), join(dir, 'out.sqlite')), /exists/);
});
