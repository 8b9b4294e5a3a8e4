import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { OutboxEvent } from '@moat/protocol';
import { demoRules } from '@moat/rules';
import { createUsersRepository } from '../auth/users-repository.ts';
import { createTokenStore } from '../auth/tokens.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { addNode, count, event, ingestInto, logged, quarantined, T0 } from '../data/test-fixtures.ts';
import { createGreylistStore } from '../greylist/greylist-store.ts';
import { createLearnStore, learnMessageOf } from '../learn/learn-store.ts';
import { insertRulesVersion } from '../rules/rules-repository.ts';
import { engineSkip, freshPostgresUrl, openTestDatabase } from '../testing/databases.ts';
import { openMasterDatabase, type MasterDatabase } from './database.ts';
import { maskPassword, migrateToPostgres, MigrationError, type TableCopied } from './migrate-to-postgres.ts';
import { MASTER_MIGRATIONS } from './migrations.ts';

const NODE = '0123456789abcdef';
const now = () => T0;

/** A SQLite master filled through the real repositories. */
async function filledSqlite(t: Parameters<typeof openTestDatabase>[1]): Promise<MasterDatabase> {
  const source = await openTestDatabase('sqlite', t);
  const db = source.db;
  const users = createUsersRepository(db, now);
  const alice = await users.create('Alice', 'hash-a', 'admin');
  await users.create('bob', 'hash-b', 'auditor');
  await createTokenStore(db, now).create(alice.id, 'ci', { role: 'operator', expiresAt: T0 + 3600_000 });
  await createAuditLog(db, now).audit({ username: 'Alice', via: 'console' }, '127.0.0.1', 'user.create', 'user:2', { username: 'bob' });
  await insertRulesVersion(db, demoRules(), 'Alice', 'first', T0 + 1);
  await insertRulesVersion(db, demoRules(), 'Alice', 'second', T0 + 2);
  await addNode(db, NODE, 'scanner-1');
  const events: OutboxEvent[] = [];
  // Enough rows for several INSERT batches in the message log.
  for (let s = 1; s <= 6000; s++) events.push(event(s, 'message.logged', logged(s, { subject: `Sübject ${s} ‘quoted’`, score: s / 7 })));
  for (let s = 6001; s <= 6020; s++) events.push(event(s, 'quarantine.added', quarantined(s - 6000)));
  const result = await ingestInto(source).ingestBatch(NODE, events);
  assert.equal(result.stored, events.length);
  await createGreylistStore(db).check({ network: '192.0.2.0/24', sender: 'a@origin.test', recipient: 'u@example.test' }, { delaySeconds: 60, expirySeconds: 600, passSeconds: 3600 }, T0);
  await createLearnStore(db).record({ message: learnMessageOf(Buffer.from('Subject: spam\r\n\r\nbuy\r\n')), class: 'spam', source: 'admin', actor: 'Alice' }, T0);
  return source;
}

async function postgres(t: Parameters<typeof openTestDatabase>[1]): Promise<MasterDatabase> {
  const target = await openMasterDatabase({ engine: 'postgres', url: await freshPostgresUrl() }, MASTER_MIGRATIONS);
  t.after(() => target.close());
  return target;
}

test('a SQLite master is copied into PostgreSQL: every table, counts and checksums verified, sequences past the copied rows', { skip: engineSkip('postgres') }, async (t) => {
  const source = await filledSqlite(t);
  const target = await postgres(t);
  const progress: TableCopied[] = [];
  const summary = await migrateToPostgres(source, target, (c) => progress.push(c));

  assert.deepEqual(progress, summary.tables);
  const copied = new Map(summary.tables.map((c) => [c.table, c.rows]));
  for (const table of ['users', 'api_tokens', 'audit', 'rules_versions', 'nodes', 'messages', 'message_rcpts', 'events', 'quarantine', 'quarantine_rcpts', 'traffic_hourly', 'top_senders_daily', 'greylist', 'learn_events', 'learn_messages']) {
    const rows = await count(source.db, `SELECT COUNT(*) FROM ${table}`);
    assert.ok(rows > 0, `the source has rows in ${table}`);
    assert.equal(copied.get(table), rows, table);
    assert.equal(await count(target.db, `SELECT COUNT(*) FROM ${table}`), rows, table);
  }
  assert.equal(copied.get('messages'), 6000);
  for (const machinery of ['messages_fts', 'messages_fts_data', 'repl_changes', 'repl_state', 'sqlite_sequence', 'schema_version']) assert.equal(copied.has(machinery), false, machinery);
  // Referenced tables first.
  const order = summary.tables.map((c) => c.table);
  assert.ok(order.indexOf('users') < order.indexOf('api_tokens'));
  assert.ok(order.indexOf('learn_messages') < order.indexOf('learn_events'));

  const users = createUsersRepository(target.db, now);
  const alice = await users.findByUsername('alice');
  assert.ok(alice, 'found case-insensitively, as on SQLite');
  assert.equal(alice.username, 'Alice');
  assert.equal(await users.passwordHashOf(alice.id), 'hash-a');
  const carol = await users.create('carol', 'hash-c', 'operator');
  assert.equal(carol.id, 3, 'the identity sequence continues after the copied ids');
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*)::int AS n FROM messages WHERE subject ILIKE ${'%sübject 5999 ‘%'}`.execute(target.db);
  assert.equal(rows[0]!.n, 1, 'text survives as it was, and the PostgreSQL subject index needs no copy');
});

test('a target that already holds rows is refused, naming the table, and nothing is copied', { skip: engineSkip('postgres') }, async (t) => {
  const source = await filledSqlite(t);
  const target = await postgres(t);
  await createUsersRepository(target.db, now).create('someone', 'hash', 'admin');
  await assert.rejects(migrateToPostgres(source, target), (err: unknown) => err instanceof MigrationError && err.table === 'users' && /not empty: table users/.test(err.message));
  assert.equal(await count(target.db, 'SELECT COUNT(*) FROM messages'), 0);
});

test('a target at another schema version is refused', { skip: engineSkip('postgres') }, async (t) => {
  const source = await filledSqlite(t);
  const target = await postgres(t);
  await sql`UPDATE schema_version SET version = version - 1`.execute(target.db);
  await assert.rejects(migrateToPostgres(source, target), /schema versions differ: SQLite is at \d+, PostgreSQL at \d+/);
});

test('a row that differs after the copy fails the verification, naming the table', { skip: engineSkip('postgres') }, async (t) => {
  const source = await filledSqlite(t);
  const target = await postgres(t);
  // A trigger stands in for a copy that went wrong: it alters one greylist row as it is written.
  await sql.raw(`CREATE FUNCTION moat_skew() RETURNS trigger AS $$ BEGIN NEW.first_seen := NEW.first_seen + 1; RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER moat_skew BEFORE INSERT ON greylist FOR EACH ROW EXECUTE FUNCTION moat_skew()`).execute(target.db);
  await assert.rejects(migrateToPostgres(source, target), (err: unknown) => err instanceof MigrationError && err.table === 'greylist' && /checksums differ/.test(err.message));
  assert.equal(await count(target.db, 'SELECT COUNT(*) FROM messages'), 0, 'the copy was rolled back');
});

test('a URL is printed with its password masked', () => {
  assert.equal(maskPassword('postgres://moat:s3cr%40t@db1:5432,db2:5432/moat'), 'postgres://moat:***@db1:5432,db2:5432/moat');
  assert.equal(maskPassword('postgres://db1/moat'), 'postgres://db1/moat');
});
