import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, openDatabase } from '@moat/storage';
import { MASTER_MIGRATIONS } from './migrations.ts';

test('migration 23 drops what management failover left in a SQLite master: its log, its state and every capture trigger', () => {
  // A master of the previous release that ran with `failover`: migration 9's tables, and the
  // capture triggers on every table (as failover/change-capture.ts wrote them), capturing.
  const db = openDatabase(':memory:', MASTER_MIGRATIONS.filter((m) => m.version <= 19));
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'repl\\_%' ESCAPE '\\' AND name NOT GLOB '*_fts*' AND sql NOT LIKE 'CREATE VIRTUAL%'").all();
  for (const { name } of tables) {
    for (const [op, when] of [['ins', 'INSERT'], ['upd', 'UPDATE'], ['del', 'DELETE']] as const) {
      db.exec(`CREATE TRIGGER "repl_${name}_${op}" AFTER ${when} ON "${name}" WHEN (SELECT capture FROM repl_state WHERE id = 1) = 1
        BEGIN INSERT INTO repl_changes (epoch, at, tbl, op, old, row) VALUES ((SELECT epoch FROM repl_state WHERE id = 1), 0, '${name}', 'upsert', NULL, NULL); END`);
    }
  }
  db.exec('UPDATE repl_state SET capture = 1');
  db.exec("INSERT INTO users (username, password_hash, role, created_at) VALUES ('before', 'x', 'admin', 1)");
  assert.equal((db.prepare('SELECT count(*) AS n FROM repl_changes').get() as { n: number }).n, 1, 'the triggers capture');

  migrate(db, MASTER_MIGRATIONS);
  const left = db.prepare<[], { type: string; name: string }>("SELECT type, name FROM sqlite_master WHERE name LIKE 'repl\\_%' ESCAPE '\\'").all();
  assert.deepEqual(left, [], 'no replication table or trigger is left');
  // Every table takes writes again without the dropped state (a trigger left behind would fail them).
  db.exec("INSERT INTO users (username, password_hash, role, created_at) VALUES ('after', 'x', 'admin', 2)");
  db.exec("UPDATE users SET role = 'auditor' WHERE username = 'before'");
  db.exec("DELETE FROM users WHERE username = 'before'");
  assert.deepEqual(db.prepare('SELECT username FROM users').all(), [{ username: 'after' }]);
  db.close();
});

test('migration 23 on a master that never ran failover: the empty log and state go, nothing else changes', () => {
  const db = openDatabase(':memory:', MASTER_MIGRATIONS.filter((m) => m.version < 23));
  const before = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE name NOT LIKE 'repl\\_%' ESCAPE '\\' ORDER BY name").all();
  migrate(db, MASTER_MIGRATIONS.filter((m) => m.version <= 23));
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_master ORDER BY name").all(), before);
  db.close();
});
