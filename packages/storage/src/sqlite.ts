import Database from 'better-sqlite3';

export type Db = Database.Database;

/** One schema migration: applied once, in order, inside a transaction. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/**
 * Open a SQLite database in WAL mode with `synchronous = FULL`: a committed transaction is
 * on disk when `commit` returns, which the "250 means on disk" promise relies on.
 * Migrations are applied in order and recorded in `user_version`.
 */
export function openDatabase(path: string, migrations: readonly Migration[]): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
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
