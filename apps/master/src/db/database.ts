import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type Db, type Migration } from '@moat/storage';
import type { MasterSchema } from './schema.ts';
import { primaryClientClass, splitHosts } from './primary-finder.ts';

/** Which engine holds the master's state: SQLite (embedded, the default) or PostgreSQL (`database.url`). */
export type Engine = 'sqlite' | 'postgres';

/**
 * The master's database on either engine. `db` is the Kysely query builder every repository
 * moved to the common layer uses (one query, compiled for the engine). `sqlite` is the raw
 * better-sqlite3 handle, only on SQLite: the online backup and the repositories not yet on
 * the common layer use it (docs/database.md lists them).
 */
export interface MasterDatabase {
  readonly engine: Engine;
  readonly db: Kysely<MasterSchema>;
  readonly sqlite: Db | undefined;
  close(): Promise<void>;
}

/**
 * `url` may list several hosts (`postgres://moat:…@db1:5432,db2:5432/moat`): a primary and its
 * standbys under failover tooling. Connections then go to the one that takes writes, found again
 * after a connection breaks; a new connection waits up to `primaryWaitMs` (default 30 s) for
 * a primary during a failover (`primary-finder.ts`).
 */
export type DatabaseLocation = { readonly engine: 'sqlite'; readonly path: string } | { readonly engine: 'postgres'; readonly url: string; readonly poolSize?: number; readonly primaryWaitMs?: number };

/** Opens (and migrates) the master's database: a SQLite file, or a PostgreSQL database by URL. */
export async function openMasterDatabase(where: DatabaseLocation, migrations: readonly Migration[]): Promise<MasterDatabase> {
  if (where.engine === 'sqlite') return sqliteDatabase(openDatabase(where.path, migrations));
  const hosts = splitHosts(where.url);
  const pool = new pg.Pool({
    connectionString: hosts[0],
    max: where.poolSize ?? 10,
    types: { getTypeParser: typeParser },
    ...(hosts.length > 1 && { Client: primaryClientClass(hosts, { deadlineMs: where.primaryWaitMs ?? 30_000 }) }),
  });
  // A pooled connection that dies (a PostgreSQL restart, a failover) is dropped by the pool;
  // without a listener its error event would end the process. pg-pool listens to a client only
  // while it is idle: one that dies checked out (a query in flight) emits 'error' on the client
  // too, after its query has failed, so every client gets a listener of its own.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<MasterSchema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migratePostgres(db, migrations);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { engine: 'postgres', db, sqlite: undefined, close: () => db.destroy() };
}

/** The common layer over a SQLite database already opened (and migrated) by @moat/storage. */
export function sqliteDatabase(sqlite: Db): MasterDatabase {
  const db = new Kysely<MasterSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    engine: 'sqlite',
    db,
    sqlite,
    async close() {
      // Kysely's SQLite driver closes the handle it was given.
      await db.destroy();
    },
  };
}

/** BIGINT (int8) columns hold epoch milliseconds and counters: numbers, as SQLite gives them, not pg's default strings. */
const INT8 = 20;
function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8) return parseInt8;
  return pg.types.getTypeParser(oid, format as 'text');
}
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`a BIGINT value ${value} is beyond what a JavaScript number holds exactly`);
  return n;
}

/** Any number: masters starting at once on one database take turns migrating it. */
const MIGRATION_LOCK = 0x6d6f6174; // 'moat'

/**
 * The same numbered migrations as SQLite, each step's PostgreSQL text (`postgres`, or `sql`
 * when it runs there as it is; null steps are SQLite machinery), in one transaction:
 * PostgreSQL's DDL is transactional, so a failed upgrade leaves the database as it was.
 * `schema_version` plays SQLite's `user_version`.
 */
export async function migratePostgres(db: Kysely<MasterSchema>, migrations: readonly Migration[]): Promise<void> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)`.execute(trx);
    const row = await sql<{ version: number }>`SELECT version FROM schema_version WHERE id = 1`.execute(trx);
    const current = row.rows[0]?.version ?? 0;
    let reached = current;
    for (const m of sorted) {
      if (m.version <= current) continue;
      const text = m.postgres === undefined ? m.sql : m.postgres;
      if (text !== null) {
        try {
          await sql.raw(text).execute(trx);
        } catch (err) {
          throw new Error(`PostgreSQL migration ${m.version} (${m.description}) failed: ${(err as Error).message}`, { cause: err });
        }
      }
      reached = m.version;
    }
    if (reached !== current) await sql`INSERT INTO schema_version (id, version) VALUES (1, ${reached}) ON CONFLICT (id) DO UPDATE SET version = excluded.version`.execute(trx);
  });
}
