import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, openDatabase, type Db } from '@moat/storage';
import { MASTER_MIGRATIONS } from './migrations.ts';

const schema = (db: Db) =>
  (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string; sql: string | null }[]).map(
    (r) => `${r.type} ${r.name}: ${(r.sql ?? '').replace(/\s+/g, ' ')}`,
  );
const version = (db: Db) => Number(db.pragma('user_version', { simple: true }));

test('migrations are listed in ascending order, each version once: a new one goes last, numbered above every other', () => {
  // migrate() skips every version at or below a database's user_version, so a migration
  // numbered below one already committed would never run on the databases made since.
  const versions = MASTER_MIGRATIONS.map((m) => m.version);
  for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! > versions[i - 1]!, `version ${versions[i]} is listed after ${versions[i - 1]}`);
});

test('a database made by any earlier list of migrations upgrades to the schema a fresh one gets', () => {
  const fresh = openDatabase(':memory:', MASTER_MIGRATIONS);
  const want = schema(fresh);
  assert.equal(version(fresh), MASTER_MIGRATIONS.at(-1)!.version);
  fresh.close();
  // Each prefix is what some earlier build made (the previous release, a184864, had 1 to 9).
  for (let k = 1; k < MASTER_MIGRATIONS.length; k++) {
    const db = openDatabase(':memory:', MASTER_MIGRATIONS.slice(0, k));
    const from = version(db);
    assert.equal(from, MASTER_MIGRATIONS[k - 1]!.version);
    migrate(db, MASTER_MIGRATIONS);
    assert.equal(version(db), MASTER_MIGRATIONS.at(-1)!.version);
    assert.deepEqual(schema(db), want, `upgraded from version ${from}`);
    db.close();
  }
});
