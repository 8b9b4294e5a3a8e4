import { after, type TestContext } from 'node:test';
import pg from 'pg';
import { postgresBinDir, startPostgres, type Postgres } from '@moat/engines';
import { openMasterDatabase, type Engine, type MasterDatabase } from '../db/database.ts';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';

/**
 * The master's tests on both engines: each test that takes an engine runs once on SQLite (a
 * fresh in-memory database) and once on PostgreSQL (a fresh database on one private server
 * per test file, started on first use). PostgreSQL's tests skip where it is not installed,
 * except under MOAT_REQUIRE_ENGINES=1 (CI), where they fail.
 */
export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

export function engineSkip(engine: Engine): string | false {
  if (engine === 'sqlite' || postgresBinDir() || process.env['MOAT_REQUIRE_ENGINES'] === '1') return false;
  return 'PostgreSQL is not installed (Debian package postgresql; .ci/run installs it and sets MOAT_REQUIRE_ENGINES=1)';
}

let server: Promise<Postgres> | undefined;
let made = 0;
after(async () => {
  if (server) await (await server).stop();
});

/** A fresh, migrated master database on `engine`, closed when the test ends. */
export async function openTestDatabase(engine: Engine, t: TestContext): Promise<MasterDatabase> {
  const database = engine === 'sqlite' ? await openMasterDatabase({ engine: 'sqlite', path: ':memory:' }, MASTER_MIGRATIONS) : await openMasterDatabase({ engine: 'postgres', url: await freshPostgresUrl() }, MASTER_MIGRATIONS);
  t.after(() => database.close());
  return database;
}

/** The URL of a new, empty database on this file's private PostgreSQL server. */
export async function freshPostgresUrl(): Promise<string> {
  server ??= startPostgres();
  const pgServer = await server;
  const name = `t${process.pid}_${++made}`;
  const admin = new pg.Client({ connectionString: pgServer.url.replace(/\/moat$/, '/postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return pgServer.url.replace(/\/moat$/, `/${name}`);
}

/**
 * Two masters' handles on one fresh database, closed when the test ends: on PostgreSQL each its
 * own pool of connections, as two master processes have; on SQLite (one master) one handle twice.
 */
export async function openMasterPair(engine: Engine, t: TestContext): Promise<readonly [MasterDatabase, MasterDatabase]> {
  if (engine === 'sqlite') {
    const one = await openTestDatabase(engine, t);
    return [one, one];
  }
  const url = await freshPostgresUrl();
  const a = await openMasterDatabase({ engine: 'postgres', url, poolSize: 4 }, MASTER_MIGRATIONS);
  t.after(() => a.close());
  const b = await openMasterDatabase({ engine: 'postgres', url, poolSize: 4 }, MASTER_MIGRATIONS);
  t.after(() => b.close());
  return [a, b];
}
