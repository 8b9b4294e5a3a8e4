import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase } from '@moat/storage';
import { openMasterDatabase } from './database.ts';
import { MASTER_MIGRATIONS } from './migrations.ts';
import { engineSkip, freshPostgresUrl } from '../testing/databases.ts';

const skip = engineSkip('postgres');

/**
 * Every table and column SQLite gets from the migrations, with NOT NULL, leaving out SQLite's
 * own machinery (full-text shadow tables, trigger replication). A view stands for a table of
 * PostgreSQL's (`message_ids`, migration 22): its columns are as NOT NULL as those it reads.
 */
function sqliteColumns(): string[] {
  const db = openDatabase(':memory:', MASTER_MIGRATIONS);
  const tables = (db.prepare("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND sql NOT LIKE 'CREATE VIRTUAL%'").all() as { name: string; type: string }[])
    .filter(({ name: n }) => !n.startsWith('sqlite_') && !n.includes('_fts') && !n.startsWith('repl_'));
  const out: string[] = [];
  for (const { name: t, type } of tables) {
    for (const c of db.prepare(`PRAGMA table_info(${t})`).all() as { name: string; notnull: number; pk: number }[]) out.push(`${t}.${c.name}${c.notnull || c.pk || type === 'view' ? ' not null' : ''}`);
  }
  db.close();
  return out.sort();
}

test('PostgreSQL gets the same tables and columns (names, NOT NULL) from the same migrations as SQLite', { skip }, async () => {
  const url = await freshPostgresUrl();
  const database = await openMasterDatabase({ engine: 'postgres', url }, MASTER_MIGRATIONS);
  await database.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows = (await client.query<{ table_name: string; column_name: string; is_nullable: string }>(
    // The message log's day partitions (migration 22) are PostgreSQL's alone, with their parent's columns.
    "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_version' AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)",
  )).rows;
  const version = (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]?.version;
  await client.end();
  assert.deepEqual(rows.map((r) => `${r.table_name}.${r.column_name}${r.is_nullable === 'NO' ? ' not null' : ''}`).sort(), sqliteColumns());
  assert.equal(Number(version), MASTER_MIGRATIONS.at(-1)!.version);
});

test('PostgreSQL: masters starting at once migrate the database once, and a restart migrates nothing', { skip }, async () => {
  const url = await freshPostgresUrl();
  const opened = await Promise.all([1, 2, 3].map(() => openMasterDatabase({ engine: 'postgres', url }, MASTER_MIGRATIONS)));
  await Promise.all(opened.map((d) => d.close()));
  const again = await openMasterDatabase({ engine: 'postgres', url }, MASTER_MIGRATIONS);
  // BIGINT columns (epoch milliseconds) come back as numbers, as on SQLite.
  await again.db.insertInto('users').values({ username: 'a', password_hash: 'h', role: 'admin', created_at: 1_764_000_000_000 }).execute();
  const row = await again.db.selectFrom('users').select(['id', 'created_at']).executeTakeFirstOrThrow();
  assert.equal(row.created_at, 1_764_000_000_000);
  assert.equal(typeof row.id, 'number');
  await again.close();
});

test('PostgreSQL: a migration that fails leaves the database as it was and names the step', { skip }, async () => {
  const url = await freshPostgresUrl();
  const broken = [...MASTER_MIGRATIONS, { version: 999, description: 'broken on purpose', sql: 'CREATE TABLE x (', postgres: 'CREATE TABLE x (' }];
  await assert.rejects(openMasterDatabase({ engine: 'postgres', url }, broken), /PostgreSQL migration 999 \(broken on purpose\) failed/);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const tables = (await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")).rows[0] as { n: number };
  await client.end();
  assert.equal(tables.n, 0);
});

// Found by the end-to-end tests on PostgreSQL (pnpm test:e2e:postgres): with a one-host
// database.url, a connection that died while checked out of the pool (PostgreSQL stopped or
// restarted while a transaction held it) emitted 'error' with no listener, which ended the
// master's process.
test('PostgreSQL: a connection that dies while a transaction holds it fails that transaction, not the process; the pool goes on', { skip }, async () => {
  const url = await freshPostgresUrl();
  const database = await openMasterDatabase({ engine: 'postgres', url }, MASTER_MIGRATIONS);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const outcome = await database.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await sql`SELECT 1`.execute(trx);
    }).then(() => 'committed', (err: Error) => err.message);
    assert.notEqual(outcome, 'committed', 'the transaction fails (terminated, or a reset socket)');
    // The dead connection may be handed out once more before its end is seen (that query fails
    // too, as a query on a broken connection does); then the pool has dropped it.
    const one = () => sql<{ one: number }>`SELECT 1 AS one`.execute(database.db).then((r) => r.rows[0]?.one, (err: Error) => err.message);
    const first = await one();
    assert.equal(first === 1 ? first : await one(), 1, `after ${String(first)}`);
  } finally {
    await admin.end();
    await database.close();
  }
});
