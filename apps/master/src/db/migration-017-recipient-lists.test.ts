import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { migrate, openDatabase, type Db } from '@moat/storage';
import { demoRules, validateRules, type Rules } from '@moat/rules';
import { MASTER_MIGRATIONS } from './migrations.ts';
import { openMasterDatabase, sqliteDatabase } from './database.ts';
import { engineSkip, freshPostgresUrl } from '../testing/databases.ts';
import { allRecipientLists, currentListsVersion, listVersions } from '../recipient-lists/recipient-lists-store.ts';
import { currentRules, rulesVersion } from '../rules/rules-repository.ts';

/** A master database as the version before migration 17 left it, with these rules versions stored. */
function before17(docs: { by: string; doc: Rules }[]): Db {
  const db = openDatabase(':memory:', MASTER_MIGRATIONS.filter((m) => m.version < 17));
  docs.forEach(({ by, doc }, i) => {
    db.prepare('INSERT INTO rules_versions (version, document, created_at, created_by, comment) VALUES (?, ?, ?, ?, ?)').run(i + 1, JSON.stringify({ ...doc, version: i + 1 }), 1000 + i, by, '');
  });
  return db;
}

const admin = validateRules({ ...demoRules(), recipientLists: {} });
const withLists = validateRules({
  ...demoRules(),
  recipientLists: {
    'bob@example.test': { allow: ['a@b.example', 'boss@partner.example'], block: ['*@spam.example'] },
    'carol@example.test': { allow: ['x@y.example'] },
    'dave@example.test': { allow: [], block: [] },
  },
});

test('migration 17 moves the current rules\' recipientLists to the end users\' store as version 1 and stores rules without them', async () => {
  const db = before17([{ by: 'admin', doc: admin }, { by: 'enduser:bob@example.test', doc: withLists }]);
  migrate(db, MASTER_MIGRATIONS);
  assert.equal(await currentListsVersion(sqliteDatabase(db).db), 1);
  assert.deepEqual(await allRecipientLists(sqliteDatabase(db).db), {
    'bob@example.test': { allow: ['a@b.example', 'boss@partner.example'], block: ['*@spam.example'] },
    'carol@example.test': { allow: ['x@y.example'], block: [] },
  });
  const [moved] = await listVersions(sqliteDatabase(db).db, 10);
  assert.equal(moved?.createdBy, 'system');
  assert.equal(moved?.comment, 'moved from rules version 2 (migration 17)');
  assert.equal(moved?.change, undefined);
  // A new rules version without them, so every scanner is pushed rules that no longer carry them.
  const rules = (await currentRules(sqliteDatabase(db).db))!;
  assert.equal(rules.version, 3);
  assert.equal(rules.createdBy, 'system');
  assert.deepEqual(rules.document, { ...withLists, version: 3, recipientLists: {} });
  assert.deepEqual(validateRules(rules.document), rules.document, 'a valid document');
  assert.deepEqual((await rulesVersion(sqliteDatabase(db).db, 2))!.document.recipientLists, withLists.recipientLists, 'history is not rewritten');
  const audit = db.prepare("SELECT username, via, action, target, details FROM audit WHERE action = 'recipient-lists.moved'").all() as { details: string }[];
  assert.equal(audit.length, 1);
  assert.deepEqual({ ...audit[0], details: JSON.parse(audit[0]!.details) }, {
    username: 'system', via: 'migration', action: 'recipient-lists.moved', target: 'recipient-lists:1',
    details: { fromRulesVersion: 2, rulesVersion: 3, entries: 4, recipients: 2 },
  });
  db.close();
});

test('migration 17 with no end-user entries (or no rules at all) makes no version of either', async () => {
  const empty = before17([{ by: 'admin', doc: admin }, { by: 'admin', doc: validateRules({ ...demoRules(), recipientLists: { 'dave@example.test': { allow: [], block: [] } } }) }]);
  migrate(empty, MASTER_MIGRATIONS);
  assert.equal(await currentListsVersion(sqliteDatabase(empty).db), 0);
  assert.equal((await currentRules(sqliteDatabase(empty).db))!.version, 2);
  assert.equal((empty.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n, 0);
  empty.close();
  const none = before17([]);
  migrate(none, MASTER_MIGRATIONS);
  assert.equal(await currentListsVersion(sqliteDatabase(none).db), 0);
  assert.equal(await currentRules(sqliteDatabase(none).db), undefined);
  none.close();
});

test('only the current version\'s lists move: an older version\'s entries an end user has since removed stay gone', async () => {
  const db = before17([{ by: 'enduser:bob@example.test', doc: withLists }, { by: 'enduser:bob@example.test', doc: validateRules({ ...demoRules(), recipientLists: { 'bob@example.test': { allow: ['a@b.example'] } } }) }]);
  migrate(db, MASTER_MIGRATIONS);
  assert.deepEqual(await allRecipientLists(sqliteDatabase(db).db), { 'bob@example.test': { allow: ['a@b.example'], block: [] } });
  db.close();
});

test('PostgreSQL: migration 17 makes the same move', { skip: engineSkip('postgres') }, async () => {
  const url = await freshPostgresUrl();
  const older = await openMasterDatabase({ engine: 'postgres', url }, MASTER_MIGRATIONS.filter((m) => m.version < 17));
  await older.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const [version, doc] of [[1, admin], [2, withLists]] as const) {
      await client.query('INSERT INTO rules_versions (version, document, created_at, created_by, comment) VALUES ($1, $2, $3, $4, $5)', [version, JSON.stringify({ ...doc, version }), 1000, 'x', '']);
    }
    const upgraded = await openMasterDatabase({ engine: 'postgres', url }, MASTER_MIGRATIONS);
    await upgraded.close();
    const entries = (await client.query<{ recipient: string; list: string; pattern: string; version: number }>('SELECT recipient, list, pattern, version FROM recipient_list_entries ORDER BY recipient, list, pattern')).rows;
    assert.deepEqual(entries.map((e) => `${e.recipient} ${e.list} ${e.pattern} ${e.version}`), [
      'bob@example.test allow a@b.example 1', 'bob@example.test allow boss@partner.example 1', 'bob@example.test block *@spam.example 1', 'carol@example.test allow x@y.example 1',
    ]);
    const versions = (await client.query<{ version: string; comment: string }>('SELECT version, comment FROM recipient_list_versions')).rows;
    assert.deepEqual(versions.map((v) => [Number(v.version), v.comment]), [[1, 'moved from rules version 2 (migration 17)']]);
    const rules = (await client.query<{ version: string; document: string }>('SELECT version, document FROM rules_versions ORDER BY version DESC LIMIT 1')).rows[0]!;
    assert.equal(Number(rules.version), 3);
    assert.deepEqual(JSON.parse(rules.document), { ...withLists, version: 3, recipientLists: {} });
    const audit = (await client.query<{ details: string }>("SELECT details FROM audit WHERE action = 'recipient-lists.moved'")).rows;
    assert.deepEqual(JSON.parse(audit[0]!.details), { fromRulesVersion: 2, rulesVersion: 3, entries: 4, recipients: 2 });
  } finally {
    await client.end();
  }
});
