import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Db } from '@moat/storage';
import { createLogPartitions } from '../data/log-partitions.ts';
import type { MasterDatabase } from './database.ts';
import type { MasterSchema } from './schema.ts';

/**
 * Copies a SQLite master into a PostgreSQL one migrated to the same schema version (`moat
 * master migrate`, docs/database.md "Moving a master from SQLite to PostgreSQL"), then checks
 * every table's row count and checksum on both sides.
 *
 * The tables are the target's (information_schema), so SQLite-only machinery is left behind by
 * construction: the FTS5 tables and their shadows (PostgreSQL indexes `subject` and the addresses with pg_trgm),
 * the trigger replication's repl_* tables, sqlite_sequence. `schema_version` is the target's own.
 * The message log's day partitions are made first and filled through their parent tables;
 * `message_ids` (a table on PostgreSQL, the log's id→day index) is read from SQLite's view.
 */

export interface TableCopied {
  readonly table: string;
  readonly rows: number;
}

export interface MigrationSummary {
  readonly version: number;
  readonly tables: readonly TableCopied[];
}

/** A table whose copy does not match its source, or a refusal before anything was written. */
export class MigrationError extends Error {
  readonly table: string | undefined;
  constructor(message: string, table?: string) {
    super(message);
    this.name = 'MigrationError';
    this.table = table;
  }
}

interface Column {
  readonly name: string;
  readonly numeric: boolean;
}
interface Table {
  readonly name: string;
  readonly columns: readonly Column[];
  readonly identity: readonly string[];
}

/** Parameters a statement may carry on PostgreSQL (its wire protocol's limit is 65,535). */
const MAX_PARAMETERS = 60_000;
const MAX_BATCH_ROWS = 5_000;
const FETCH_ROWS = 5_000;

export async function migrateToPostgres(source: MasterDatabase, target: MasterDatabase, onTable: (copied: TableCopied) => void = () => undefined): Promise<MigrationSummary> {
  const sqlite = source.sqlite;
  if (source.engine !== 'sqlite' || !sqlite) throw new MigrationError('the source must be a SQLite master database');
  if (target.engine !== 'postgres') throw new MigrationError('the target must be a PostgreSQL database');

  const sourceVersion = Number(sqlite.pragma('user_version', { simple: true }));
  const targetVersion = (await sql<{ version: number }>`SELECT version FROM schema_version WHERE id = 1`.execute(target.db)).rows[0]?.version ?? 0;
  if (sourceVersion !== targetVersion) throw new MigrationError(`the schema versions differ: SQLite is at ${sourceVersion}, PostgreSQL at ${targetVersion}; run the same Moat version on both`);

  const tables = await targetTables(target.db);
  // A view on SQLite may stand for a table on PostgreSQL: `message_ids`, the log's id→day index (migration 22).
  const present = new Set((sqlite.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").pluck().all() as string[]));
  for (const t of tables) if (!present.has(t.name)) throw new MigrationError(`table ${t.name} is in PostgreSQL but not in the SQLite database`, t.name);
  for (const t of tables) {
    const any = await sql`SELECT 1 FROM ${sql.table(t.name)} LIMIT 1`.execute(target.db);
    if (any.rows.length > 0) throw new MigrationError(`the target is not empty: table ${t.name} holds rows; migrate into a new database`, t.name);
  }

  const copied: TableCopied[] = [];
  await target.db.transaction().execute(async (trx) => {
    // The message log's day partitions, for every day it holds (data/log-partitions.ts).
    const days = sqlite.prepare('SELECT DISTINCT received_at FROM (SELECT received_at - (received_at % 86400000) AS received_at FROM messages)').pluck().all() as number[];
    await createLogPartitions('postgres').ensure(trx, days);
    for (const t of tables) {
      const rows = await copyTable(sqlite, trx, t);
      copied.push({ table: t.name, rows });
      onTable({ table: t.name, rows });
    }
    for (const t of tables) {
      for (const column of t.identity) {
        // Past the copied maximum: the next row PostgreSQL numbers itself must not collide.
        await sql`SELECT setval(pg_get_serial_sequence(${t.name}, ${column}), (SELECT COALESCE(MAX(${sql.ref(column)}), 0) + 1 FROM ${sql.table(t.name)}), false)`.execute(trx);
      }
    }
    // Verified before the commit: a mismatch rolls the copy back, leaving the target empty.
    for (const t of tables) {
      const from = sourceChecksum(sqlite, t);
      const to = await targetChecksum(trx, t);
      if (from.rows !== to.rows) throw new MigrationError(`table ${t.name}: ${from.rows} rows in SQLite, ${to.rows} in PostgreSQL (nothing was kept)`, t.name);
      if (from.sum !== to.sum) throw new MigrationError(`table ${t.name}: the rows' checksums differ between SQLite and PostgreSQL (nothing was kept)`, t.name);
    }
  });

  return { version: targetVersion, tables: copied };
}

/** The target's tables with their columns, referenced tables before those that reference them. */
async function targetTables(db: Kysely<MasterSchema>): Promise<Table[]> {
  const columns = await sql<{ table_name: string; column_name: string; data_type: string; is_identity: string }>`
    SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name <> 'schema_version' AND is_generated = 'NEVER'
      AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)
    ORDER BY table_name, ordinal_position`.execute(db);
  const byName = new Map<string, { columns: Column[]; identity: string[] }>();
  for (const c of columns.rows) {
    const entry = byName.get(c.table_name) ?? { columns: [], identity: [] };
    byName.set(c.table_name, entry);
    entry.columns.push({ name: c.column_name, numeric: c.data_type !== 'text' });
    if (c.is_identity === 'YES') entry.identity.push(c.column_name);
  }
  const refs = await sql<{ child: string; parent: string }>`
    SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent FROM pg_constraint c
    JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema()`.execute(db);
  const parents = new Map<string, string[]>();
  for (const r of refs.rows) if (r.child !== r.parent) parents.set(r.child, [...(parents.get(r.child) ?? []), r.parent]);

  const ordered: Table[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: readonly string[]) => {
    if (placed.has(name)) return;
    if (path.includes(name)) throw new MigrationError(`foreign keys form a cycle through ${name}`, name);
    for (const p of parents.get(name) ?? []) visit(p, [...path, name]);
    const entry = byName.get(name);
    if (entry) ordered.push({ name, ...entry });
    placed.add(name);
  };
  for (const name of [...byName.keys()].sort()) visit(name, []);
  return ordered;
}

async function copyTable(sqlite: Db, trx: Kysely<MasterSchema>, t: Table): Promise<number> {
  const names = t.columns.map((c) => c.name);
  const batchRows = Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(MAX_PARAMETERS / names.length)));
  const select = sqlite.prepare(`SELECT ${names.map(quote).join(', ')} FROM ${quote(t.name)}`).raw();
  const columnList = sql.join(names.map((n) => sql.ref(n)));
  // OVERRIDING SYSTEM VALUE: identity columns take the copied numbers.
  const overriding = t.identity.length > 0 ? sql` OVERRIDING SYSTEM VALUE` : sql``;
  let batch: unknown[][] = [];
  let rows = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const values = sql.join(batch.map((row) => sql`(${sql.join(row)})`));
    try {
      await sql`INSERT INTO ${sql.table(t.name)} (${columnList})${overriding} VALUES ${values}`.execute(trx);
    } catch (err) {
      throw new MigrationError(`table ${t.name}: copying failed (nothing was written): ${(err as Error).message}`, t.name);
    }
    rows += batch.length;
    batch = [];
  };
  for (const row of select.iterate() as IterableIterator<unknown[]>) {
    batch.push(row);
    if (batch.length >= batchRows) await flush();
  }
  await flush();
  return rows;
}

interface Checksum {
  rows: number;
  sum: bigint;
}

/**
 * Each row's values normalised by the target column's type (numbers as numbers, text as
 * text, NULL as null), hashed with SHA-256, and the hashes summed modulo 2^256: independent
 * of row order, since the engines sort text differently (SQLite's NOCASE user names, the
 * database's collation on PostgreSQL).
 */
function rowHash(t: Table, row: readonly unknown[]): bigint {
  const values = row.map((v, i) => (v === null || v === undefined ? null : t.columns[i]!.numeric ? Number(v) : String(v)));
  return BigInt(`0x${createHash('sha256').update(JSON.stringify(values)).digest('hex')}`);
}
const MOD = 1n << 256n;

function sourceChecksum(sqlite: Db, t: Table): Checksum {
  const c: Checksum = { rows: 0, sum: 0n };
  const select = sqlite.prepare(`SELECT ${t.columns.map((col) => quote(col.name)).join(', ')} FROM ${quote(t.name)}`).raw();
  for (const row of select.iterate() as IterableIterator<unknown[]>) {
    c.rows++;
    c.sum = (c.sum + rowHash(t, row)) % MOD;
  }
  return c;
}

/** Read through a cursor, a batch at a time; `trx` must be a transaction (a cursor lives in one). */
async function targetChecksum(trx: Kysely<MasterSchema>, t: Table): Promise<Checksum> {
  const c: Checksum = { rows: 0, sum: 0n };
  const columns = sql.join(t.columns.map((col) => sql.ref(col.name)));
  await sql`DECLARE moat_verify NO SCROLL CURSOR FOR SELECT ${columns} FROM ${sql.table(t.name)}`.execute(trx);
  for (;;) {
    const batch = await sql<Record<string, unknown>>`FETCH ${sql.raw(String(FETCH_ROWS))} FROM moat_verify`.execute(trx);
    for (const r of batch.rows) {
      c.rows++;
      c.sum = (c.sum + rowHash(t, t.columns.map((col) => r[col.name]))) % MOD;
    }
    if (batch.rows.length < FETCH_ROWS) break;
  }
  await sql`CLOSE moat_verify`.execute(trx);
  return c;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A PostgreSQL URL with its password masked, for printing. */
export function maskPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}
