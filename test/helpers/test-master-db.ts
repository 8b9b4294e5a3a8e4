import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { promisify } from 'node:util';
import { after } from 'node:test';
import { postgresBinDir, startPostgres, type Postgres } from '@moat/engines';
import type { Master } from '@moat/master';

/**
 * Which engine the masters the tests start run on. By default SQLite in the master's dataDir.
 * `MOAT_TEST_MASTER_DB=postgres` (`pnpm test:e2e:postgres`, docs/database.md "Tests on both
 * engines") puts each master that does not name its database on a fresh database of one
 * private PostgreSQL server, started on first use and stopped when the test file ends (node:test
 * runs each file in a process of its own). The database is keyed by the master's dataDir: a
 * master started again on the same folder finds its data again, as it would in master.sqlite.
 */
export type TestMasterEngine = 'sqlite' | 'postgres';

export const TEST_MASTER_DB_VARIABLE = 'MOAT_TEST_MASTER_DB';

/** What a test asks for: the default of the run, SQLite explicitly (the test is about SQLite), or a given `database` section. */
export type TestMasterDbChoice = 'sqlite' | Record<string, unknown> | undefined;

export function testMasterEngine(env: NodeJS.ProcessEnv = process.env): TestMasterEngine {
  const value = env[TEST_MASTER_DB_VARIABLE];
  if (value === undefined || value === '' || value === 'sqlite') return 'sqlite';
  if (value === 'postgres') return 'postgres';
  throw new Error(`${TEST_MASTER_DB_VARIABLE}=${value}: expected sqlite or postgres`);
}

const engine = testMasterEngine();
let server: Promise<Postgres> | undefined;
const byDataDir = new Map<string, Promise<string>>();
let made = 0;

if (engine === 'postgres') {
  // Registered at load, on the file's root: a hook added inside a test would stop the server when
  // that test ends. It runs before the file's own `after` hooks (imports load first), so a master
  // a file closes there sees its connections end first, as on a PostgreSQL restart (db/database.ts).
  after(async () => {
    if (server) await (await server).stop();
  });
}

/**
 * The `database` section for a master on `dataDir`: undefined for SQLite (its default), the
 * given section as it is, or under the PostgreSQL switch the URL of this dataDir's database.
 */
export async function testMasterDatabase(dataDir: string, choice?: TestMasterDbChoice): Promise<Record<string, unknown> | undefined> {
  if (choice === 'sqlite') return undefined;
  if (choice) return choice;
  if (engine === 'sqlite') return undefined;
  const key = resolve(dataDir);
  let url = byDataDir.get(key);
  if (!url) {
    url = freshDatabase();
    byDataDir.set(key, url);
  }
  return { url: await url };
}

/** For a master config written as YAML or built by hand: `{ database }` to spread into it, or nothing. */
export async function testMasterDatabaseSection(dataDir: string, choice?: TestMasterDbChoice): Promise<{ database?: Record<string, unknown> }> {
  const database = await testMasterDatabase(dataDir, choice);
  return database ? { database } : {};
}

async function freshDatabase(): Promise<string> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`${TEST_MASTER_DB_VARIABLE}=postgres, but PostgreSQL is not installed (Debian package postgresql)`);
  server ??= startPostgres();
  const pg = await server;
  const name = `master_${process.pid}_${++made}`;
  const url = new URL(pg.url);
  await promisify(execFile)(join(bin, 'createdb'), ['-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), name], { env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } });
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * What the master's database holds at rest, as bytes: master.sqlite and its WAL after a
 * checkpoint, or on PostgreSQL a data-only pg_dump of its database (bytea as hex).
 */
export async function storedBytes(master: Master & { dataDir: string }): Promise<Buffer> {
  if (master.database.engine === 'sqlite') {
    master.db.pragma('wal_checkpoint(TRUNCATE)');
    return Buffer.concat(readdirSync(master.dataDir).filter((f) => f.startsWith('master.sqlite')).map((f) => readFileSync(join(master.dataDir, f))));
  }
  const url = await byDataDir.get(resolve(master.dataDir));
  if (!url) throw new Error(`no database of ${TEST_MASTER_DB_VARIABLE} for ${master.dataDir}`);
  const { stdout } = await promisify(execFile)(join(postgresBinDir()!, 'pg_dump'), ['--data-only', '-d', url], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}
