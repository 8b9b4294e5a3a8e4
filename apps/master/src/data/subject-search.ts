import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { inChunks } from './in-chunks.ts';
import { likeCondition } from './search-filters.ts';
import { containsPattern, ftsPhrase } from './sql-like.ts';

/**
 * Subject search, for the message log and the quarantine alike: it asks which engine it runs
 * on, because the two engines index text differently (the log's day partitions are the data
 * area's other difference: log-partitions.ts, log-entries.ts, log-retention.ts).
 *
 * SQLite: each table has a contentless FTS5 trigram index of its subjects (`messages_fts`,
 * `quarantine_fts`, rowid = the row's rid), written by the ingest next to the row
 * (`indexSubjects`), which finds a substring anywhere in millions of subjects in
 * milliseconds, case-insensitively (Unicode case folding), for terms of three characters or
 * more. Two ways to use it. `index`: the trigram index lists the matching rows, which are then
 * sorted by time: fast while they are few, slow for a word in every tenth subject (every
 * match is fetched and sorted to show 50). `scan`: walk the time index newest first testing
 * LIKE and stop at a page: fast when matches are common, slow when rare. `subjectStrategy`
 * picks by counting matches up to FTS_LIST_CAP (a capped, cheap index read). Terms under
 * three characters can only scan; non-ASCII terms always use the index (LIKE folds only
 * ASCII case).
 *
 * PostgreSQL: a pg_trgm GIN index on `subject` itself (migration 2), which PostgreSQL keeps
 * up to date with the row (nothing to write) and uses for `ILIKE '%term%'`; its planner
 * chooses between that index and the time index from its statistics, so there is one
 * condition and no strategy to pick. ILIKE folds case by the database's locale (UTF-8).
 */
export type SubjectStrategy = 'index' | 'scan';
export type SubjectTable = 'messages' | 'quarantine';

export const FTS_MIN_CHARS = 3;
export const FTS_LIST_CAP = 2000;

const FTS: Readonly<Record<SubjectTable, string>> = { messages: 'messages_fts', quarantine: 'quarantine_fts' };

export async function subjectStrategy(db: Kysely<MasterSchema>, engine: Engine, table: SubjectTable, subject: string): Promise<SubjectStrategy> {
  if ([...subject].length < FTS_MIN_CHARS) return 'scan';
  if (engine === 'postgres' || /[^\x00-\x7f]/.test(subject)) return 'index';
  const fts = sql.table(FTS[table]);
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${fts} WHERE ${fts} MATCH ${ftsPhrase(subject)} LIMIT ${sql.lit(FTS_LIST_CAP)})`.execute(db);
  return Number(rows[0]?.n ?? 0) < FTS_LIST_CAP ? 'index' : 'scan';
}

/** The subject condition on `alias`'s table; `indexed` when a text index drives the query (the caller then keeps other indexes from driving it). */
export function subjectCondition(engine: Engine, alias: string, table: SubjectTable, subject: string, strategy: SubjectStrategy): { condition: RawBuilder<unknown>; indexed: boolean } {
  const column = sql.ref(`${alias}.subject`);
  const longEnough = [...subject].length >= FTS_MIN_CHARS;
  if (engine === 'postgres') return { condition: sql`${column} ILIKE ${containsPattern(subject)} ESCAPE '\\'`, indexed: longEnough };
  if (strategy === 'index' && longEnough) {
    const fts = sql.table(FTS[table]);
    return { condition: sql`${sql.ref(`${alias}.rid`)} IN (SELECT rowid FROM ${fts} WHERE ${fts} MATCH ${ftsPhrase(subject)})`, indexed: true };
  }
  return { condition: likeCondition(`${alias}.subject`, containsPattern(subject)), indexed: false };
}

/** Index new rows' subjects, in the transaction that inserted them: SQLite's FTS5 rows; nothing on PostgreSQL, whose index follows the table. */
export async function indexSubjects(db: Kysely<MasterSchema>, engine: Engine, table: SubjectTable, rows: readonly { rid: number; subject: string }[]): Promise<void> {
  if (engine === 'postgres' || rows.length === 0) return;
  const fts = sql.table(FTS[table]);
  await inChunks(rows, (chunk) => sql`INSERT INTO ${fts} (rowid, subject) VALUES ${sql.join(chunk.map((r) => sql`(${r.rid}, ${r.subject})`))}`.execute(db));
}

/** Remove deleted rows' subjects from the index (SQLite's FTS5 rows, contentless_delete); nothing on PostgreSQL. */
export async function unindexSubjects(db: Kysely<MasterSchema>, engine: Engine, table: SubjectTable, rids: readonly number[]): Promise<void> {
  if (engine === 'postgres' || rids.length === 0) return;
  const fts = sql.table(FTS[table]);
  await inChunks(rids, (chunk) => sql`DELETE FROM ${fts} WHERE rowid IN (${sql.join(chunk)})`.execute(db));
}
