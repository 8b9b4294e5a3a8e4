import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PathSync } from './dir-sync.ts';

export type Db = Database.Database;

/** One schema migration: applied once, in order, inside a transaction. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
  /**
   * The same step for PostgreSQL (the master's other engine): omitted when `sql` runs there
   * as it is; null when the step has nothing to do there (SQLite-only machinery).
   */
  readonly postgres?: string | null;
}

export interface OpenOptions {
  /**
   * `full` (the default): a committed transaction is on disk when `commit` returns (SQLite
   * fsyncs the WAL inside the commit, blocking the event loop meanwhile).
   * `normal`: a commit only writes the WAL into the page cache (safe from a process crash,
   * not yet from a power loss); the caller makes it durable with a {@link walSync} of the same
   * database before it tells anyone, off the event loop. Checkpoints still sync as in `full`.
   */
  readonly synchronous?: 'full' | 'normal';
}

/**
 * Open a SQLite database in WAL mode, `synchronous = FULL` unless told otherwise (see
 * {@link OpenOptions}): the "250 means on disk" promise relies on it.
 * Migrations are applied in order and recorded in `user_version`.
 */
export function openDatabase(path: string, migrations: readonly Migration[], options: OpenOptions = {}): Db {
  privateFiles(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(options.synchronous === 'normal' ? 'synchronous = NORMAL' : 'synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

/**
 * The databases hold password, session and token hashes, node public keys and mail metadata:
 * readable by their owner only. A new database file is created 0600 (SQLite gives its -wal and
 * -shm files the database file's mode), and one created 0644 by an older version is tightened.
 */
function privateFiles(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}

export function migrate(db: Db, migrations: readonly Migration[]): void {
  const current = Number(db.pragma('user_version', { simple: true }));
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

/**
 * Durability for a database opened with `synchronous: 'normal'`: `sync()` fdatasyncs its WAL
 * file in libuv's thread pool, so every transaction committed before the call is on disk when
 * the promise resolves — what `synchronous = FULL` gives, without the event loop waiting for
 * the disk. Calls made while a sync runs share the next one. The file is looked up by name at
 * each sync: SQLite may delete the WAL (at close, after checkpointing it into the database,
 * which it syncs) and create a new one, and an old descriptor would sync the wrong file.
 */
export function walSync(dbPath: string): PathSync {
  return new PathSync(`${dbPath}-wal`, { data: true, missingOk: true });
}
