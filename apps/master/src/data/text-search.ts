import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { inChunks } from './in-chunks.ts';
import { containsPattern, ftsAllOf, ftsPhrase, trigramsOf } from './sql-like.ts';

/**
 * Substring search on the text columns of the message log and the quarantine: the subject,
 * the sender address (`mail_from`) and the recipients (`rcpt_to`, the JSON array's text, which
 * a recipient `match=contains` and a recipient domain search look in). It asks which engine it
 * runs on, because the two engines index text differently (the log's day partitions are the
 * data area's other difference: log-partitions.ts, log-entries.ts, log-retention.ts).
 *
 * SQLite: a contentless FTS5 trigram index per table and column, rowid = the row's rid,
 * written by the ingest next to the row (`indexText`) and emptied of deleted rows
 * (`unindexText`): `messages_fts` and `quarantine_fts` for subjects (migration 2),
 * `*_sender_fts` and `*_rcpt_fts` for the addresses (migration 24). They find a substring
 * anywhere in millions of rows in milliseconds, for terms of three characters or more. Two ways
 * to use them. `index`: the trigram index lists the matching rows, which are then sorted by
 * time: fast while they are few, slow for a term in every tenth row (every match is fetched and
 * sorted to show 50). `scan`: walk the time index newest first testing LIKE and stop at a page:
 * fast when matches are common, slow when rare. `textStrategy` picks by counting matches up to
 * FTS_LIST_CAP (a capped, cheap index read). Terms under three characters can only scan.
 *
 * A subject is matched as the trigram index folds case (Unicode), so a non-ASCII subject term
 * always uses the index (LIKE folds only ASCII case), and the index is asked for the whole term
 * as a phrase. An address is stored lower-cased and searched lower-cased (addresses.ts) by
 * LIKE, as before it had an index: there the index only narrows the rows, and the LIKE, kept
 * next to it, decides, so the rows found are the scan's. That lets the index be asked for a few
 * of the term's trigrams rather than the phrase: addresses share long runs (`sender`,
 * `@gmail.com`) whose trigrams are in nearly every row, and FTS5 reads a phrase, or any AND with
 * such a trigram, along that trigram's whole list (27 ms for a five-digit sender among a million
 * rows, against 0.7 ms for its three rarest trigrams). `rarestTrigrams` finds them by reading
 * the newest TRIGRAM_SAMPLE rows of each: the fewer rows a trigram has, or the longer the stretch
 * of rids its newest ones span, the rarer it is.
 *
 * PostgreSQL: pg_trgm GIN indexes on the columns themselves (`subject`: migration 2; `mail_from`
 * and `rcpt_to`: migration 24, declared on the log's partitioned parent, so every day partition
 * has its own), which PostgreSQL keeps up to date with the row (nothing to write) and uses for
 * `ILIKE` / `LIKE '%term%'`; its planner chooses between them and the time index from its
 * statistics, so there is one condition and no strategy to pick. A subject is matched with
 * ILIKE (case folded by the database's locale, UTF-8), an address with LIKE (both sides lower-cased).
 */
export type TextStrategy = 'index' | 'scan';
export type TextTable = 'messages' | 'quarantine';
/** What a term is looked for in: the subject, the sender address, the recipient list. */
export type SearchedText = 'subject' | 'sender' | 'recipients';

/** How one term is looked up; for an address by the index, the trigrams the index is asked for (without: every one of the term's). */
export interface TextLookup {
  readonly strategy: TextStrategy;
  readonly trigrams?: readonly string[];
}

/** How each searched text of one search is looked up (missing: `index`), or one strategy for all of them. */
export type TextStrategies = TextStrategy | Partial<Readonly<Record<SearchedText, TextLookup>>>;

/** A term to look for in one of the searched texts. */
export interface TextTerm {
  readonly text: SearchedText;
  readonly term: string;
}

export const FTS_MIN_CHARS = 3;
export const FTS_LIST_CAP = 2000;
/** How many of its newest rows each trigram of an address term is judged by. */
export const TRIGRAM_SAMPLE = 200;
/** How many of an address term's trigrams, the rarest, the index is asked for. */
export const TRIGRAMS_ASKED = 3;

interface TextColumn {
  /** The table's column, which PostgreSQL's pg_trgm index covers and SQLite's FTS5 table has alone. */
  readonly column: 'subject' | 'mail_from' | 'rcpt_to';
  /** SQLite's FTS5 table of it, by table. */
  readonly fts: Readonly<Record<TextTable, string>>;
  /** `index`: the index decides (the phrase, case folded by the trigram index); `like`: LIKE decides and the index only narrows. */
  readonly matchedBy: 'index' | 'like';
}

const TEXTS: Readonly<Record<SearchedText, TextColumn>> = {
  subject: { column: 'subject', fts: { messages: 'messages_fts', quarantine: 'quarantine_fts' }, matchedBy: 'index' },
  sender: { column: 'mail_from', fts: { messages: 'messages_sender_fts', quarantine: 'quarantine_sender_fts' }, matchedBy: 'like' },
  recipients: { column: 'rcpt_to', fts: { messages: 'messages_rcpt_fts', quarantine: 'quarantine_rcpt_fts' }, matchedBy: 'like' },
};

const longEnough = (term: string) => [...term].length >= FTS_MIN_CHARS;

/** What the FTS5 table is asked for: the phrase (subject), or the given trigrams of an address term, else all of them. */
function ftsQuery(t: TextColumn, term: string, trigrams: readonly string[] | undefined): string {
  return t.matchedBy === 'index' ? ftsPhrase(term) : ftsAllOf(trigrams ?? trigramsOf(term));
}

/**
 * The TRIGRAMS_ASKED rarest trigrams of `term` in an FTS5 table (SQLite), judged by each one's
 * newest TRIGRAM_SAMPLE rows: fewer rows first, then the longest stretch of rids they span.
 */
export async function rarestTrigrams(db: Kysely<MasterSchema>, fts: string, term: string): Promise<string[]> {
  const judged: { trigram: string; rows: number; span: number }[] = [];
  for (const trigram of trigramsOf(term)) {
    const { rows } = await sql<{ n: number; lo: number | null; hi: number | null }>`SELECT COUNT(*) AS n, MIN(rowid) AS lo, MAX(rowid) AS hi
      FROM (SELECT rowid FROM ${sql.table(fts)} WHERE ${sql.table(fts)} MATCH ${ftsPhrase(trigram)} ORDER BY rowid DESC LIMIT ${sql.lit(TRIGRAM_SAMPLE)})`.execute(db);
    const r = rows[0];
    judged.push({ trigram, rows: Number(r?.n ?? 0), span: Number(r?.hi ?? 0) - Number(r?.lo ?? 0) });
  }
  return judged.sort((a, b) => a.rows - b.rows || b.span - a.span).slice(0, TRIGRAMS_ASKED).map((j) => j.trigram);
}

/** How to look `term` up in `text`: by the index unless it is too short for it or, on SQLite, has FTS_LIST_CAP matches or more. */
export async function textStrategy(db: Kysely<MasterSchema>, engine: Engine, table: TextTable, text: SearchedText, term: string): Promise<TextLookup> {
  if (!longEnough(term)) return { strategy: 'scan' };
  const t = TEXTS[text];
  if (engine === 'postgres' || (t.matchedBy === 'index' && /[^\x00-\x7f]/.test(term))) return { strategy: 'index' };
  const fts = t.fts[table];
  const trigrams = t.matchedBy === 'like' ? await rarestTrigrams(db, fts, term) : undefined;
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${sql.table(fts)} WHERE ${sql.table(fts)} MATCH ${ftsQuery(t, term, trigrams)} LIMIT ${sql.lit(FTS_LIST_CAP)})`.execute(db);
  return { strategy: Number(rows[0]?.n ?? 0) < FTS_LIST_CAP ? 'index' : 'scan', ...(trigrams ? { trigrams } : {}) };
}

/** How each term of a search is looked up (see textStrategy). */
export async function textStrategies(db: Kysely<MasterSchema>, engine: Engine, table: TextTable, terms: readonly TextTerm[]): Promise<Partial<Record<SearchedText, TextLookup>>> {
  const out: Partial<Record<SearchedText, TextLookup>> = {};
  for (const { text, term } of terms) out[text] = await textStrategy(db, engine, table, text, term);
  return out;
}

/** The condition that `alias`'s row has `term` in `text`; `indexed` when a text index drives the query (the caller then keeps other indexes from driving it). */
export function textCondition(engine: Engine, alias: string, table: TextTable, { text, term }: TextTerm, strategies: TextStrategies): { condition: RawBuilder<unknown>; indexed: boolean } {
  const t = TEXTS[text];
  const column = sql.ref(`${alias}.${t.column}`);
  const like = sql`${column} ${sql.raw(t.matchedBy === 'index' && engine === 'postgres' ? 'ILIKE' : 'LIKE')} ${containsPattern(term)} ESCAPE '\\'`;
  if (engine === 'postgres') return { condition: like, indexed: longEnough(term) };
  const lookup: TextLookup = typeof strategies === 'string' ? { strategy: strategies } : strategies[text] ?? { strategy: 'index' };
  if (lookup.strategy === 'index' && longEnough(term)) {
    const fts = sql.table(t.fts[table]);
    const listed = sql`${sql.ref(`${alias}.rid`)} IN (SELECT rowid FROM ${fts} WHERE ${fts} MATCH ${ftsQuery(t, term, lookup.trigrams)})`;
    return { condition: t.matchedBy === 'index' ? listed : sql`${listed} AND ${like}`, indexed: true };
  }
  return { condition: like, indexed: false };
}

/** A new row's searchable text, as stored. */
export interface IndexedRow {
  readonly rid: number;
  readonly subject: string;
  /** Lower-cased. */
  readonly mail_from: string;
  /** The JSON array of lower-cased recipients. */
  readonly rcpt_to: string;
}

/** Index new rows' text, in the transaction that inserted them: SQLite's FTS5 rows; nothing on PostgreSQL, whose indexes follow the table. */
export async function indexText(db: Kysely<MasterSchema>, engine: Engine, table: TextTable, rows: readonly IndexedRow[]): Promise<void> {
  if (engine === 'postgres' || rows.length === 0) return;
  await inChunks(rows, async (chunk) => {
    for (const { column, fts } of Object.values(TEXTS)) {
      await sql`INSERT INTO ${sql.table(fts[table])} (rowid, ${sql.ref(column)}) VALUES ${sql.join(chunk.map((r) => sql`(${r.rid}, ${r[column]})`))}`.execute(db);
    }
  });
}

/** Remove deleted rows from the text indexes (SQLite's FTS5 rows, contentless_delete); nothing on PostgreSQL. */
export async function unindexText(db: Kysely<MasterSchema>, engine: Engine, table: TextTable, rids: readonly number[]): Promise<void> {
  if (engine === 'postgres' || rids.length === 0) return;
  await inChunks(rids, async (chunk) => {
    for (const { fts } of Object.values(TEXTS)) await sql`DELETE FROM ${sql.table(fts[table])} WHERE rowid IN (${sql.join(chunk)})`.execute(db);
  });
}
