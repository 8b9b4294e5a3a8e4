import { sql, type Kysely } from 'kysely';
import type { QuarantineAdded } from '@moat/protocol';
import { pageOf } from './cursor.ts';
import { setQuarantineStatus, type QuarantineStatus } from './quarantine-writer.ts';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import type { NodesSeenByData } from '../db/tables/data.ts';
import { commonSearch, hasSelectiveFilter, pageSize, textTerms, Where, type CommonSearch } from './search-filters.ts';
import { textStrategies, type TextStrategies } from './text-search.ts';
import type { Page } from './messages-repository.ts';

export type { QuarantineStatus };

export interface QuarantineSearch extends CommonSearch {
  /** held (default), released, deleted, or all. */
  readonly status?: QuarantineStatus | 'all';
}

/** A quarantine index entry. Times are epoch ms. */
export interface QuarantineEntry {
  readonly nodeId: string;
  readonly nodeName: string | null;
  readonly id: string;
  readonly createdAt: number;
  readonly mailFrom: string;
  readonly firstRcpt: string;
  readonly rcptCount: number;
  readonly subject: string;
  readonly size: number;
  readonly score: number;
  readonly status: QuarantineStatus;
  readonly statusAt: number | null;
}

export interface QuarantineDetail extends QuarantineEntry {
  /** The file's name on its node (the node serves it; the master never opens it). */
  readonly file: string;
  readonly rcptTo: string[];
  readonly reasons: QuarantineAdded['reasons'];
}

const COLUMNS = ['q.rid', 'q.node_id', 'n.name as node_name', 'q.id', 'q.created_at', 'q.mail_from', 'q.first_rcpt', 'q.rcpt_count', 'q.subject', 'q.size', 'q.score', 'q.status', 'q.status_at'] as const;
interface EntryRow {
  rid: number; node_id: string; node_name: string | null; id: string; created_at: number; mail_from: string; first_rcpt: string;
  rcpt_count: number; subject: string; size: number; score: number; status: QuarantineStatus; status_at: number | null;
}

/**
 * A quarantine search as a Kysely query (pure: exposed for tests and EXPLAIN); `strategies` is
 * how its subject and address substrings are looked up (text-search.ts). When an exact address
 * or an indexed substring narrows the search, the status test is written `(q.status || '') = …` so SQLite
 * does not pick the (status, created_at) index to drive it: on a quarantine of a million held
 * messages that index matches nearly every row. (The same words on PostgreSQL, whose planner
 * weighs the indexes by their statistics anyway.)
 */
export function buildQuarantineSearch(engine: Engine, q: QuarantineSearch, strategies: TextStrategies = 'index') {
  const where = new Where();
  const { from, timeCol, ridCol, textIndexed } = commonSearch(engine, { table: 'quarantine', rcptTable: 'quarantine_rcpts', timeCol: 'created_at' }, 'q', q, where, strategies);
  const status = q.status ?? 'held';
  if (status !== 'all') where.add(hasSelectiveFilter(q) || textIndexed ? sql`(q.status || '') = ${status}` : sql`q.status = ${status}`);
  const limit = pageSize(q.limit);
  const query = sql<EntryRow>`SELECT ${sql.join(COLUMNS.map((c) => sql.raw(c.replace(' as ', ' AS '))))} FROM ${from} LEFT JOIN nodes n ON n.id = q.node_id ${where.toSql()}
    ORDER BY ${sql.ref(timeCol)} DESC, ${sql.ref(ridCol)} DESC LIMIT ${sql.lit(limit + 1)}`;
  return { query, limit };
}

/** Search the quarantine index of every node, newest first, one page at a time. */
export async function searchQuarantine(db: Kysely<MasterSchema>, engine: Engine, q: QuarantineSearch): Promise<Page<QuarantineEntry>> {
  const { query, limit } = buildQuarantineSearch(engine, q, await textStrategies(db, engine, 'quarantine', textTerms(q)));
  const { rows } = await query.execute(db);
  return pageOf(rows, limit, (r) => r.created_at, toEntry);
}

/**
 * A quarantined message by id, whichever node holds it (ids are 20 random characters, so
 * unique in practice; should two nodes ever share one, the held, newest entry wins).
 */
export async function getQuarantined(db: Kysely<MasterSchema>, id: string): Promise<QuarantineDetail | undefined> {
  const row = await db.withTables<NodesSeenByData>().selectFrom('quarantine as q').leftJoin('nodes as n', 'n.id', 'q.node_id')
    .select([...COLUMNS, 'q.file', 'q.rcpt_to', 'q.reasons']).where('q.id', '=', id)
    .orderBy(sql`q.status = 'held'`, 'desc').orderBy('q.created_at', 'desc').limit(1).executeTakeFirst();
  if (!row) return undefined;
  return { ...toEntry(row), file: row.file, rcptTo: JSON.parse(row.rcpt_to) as string[], reasons: JSON.parse(row.reasons) as QuarantineAdded['reasons'] };
}

/**
 * Record a release or deletion the master just made (the scanner's own `quarantine.changed`
 * event confirms it later; applying both is harmless). Status only moves forward
 * (held → released → deleted): false if the entry is missing or already there.
 */
export function markQuarantine(db: Kysely<MasterSchema>, nodeId: string, id: string, status: QuarantineStatus, at: number = Date.now()): Promise<boolean> {
  return setQuarantineStatus(db, nodeId, id, status, at);
}

function toEntry(r: EntryRow): QuarantineEntry {
  return {
    nodeId: r.node_id, nodeName: r.node_name, id: r.id, createdAt: r.created_at, mailFrom: r.mail_from, firstRcpt: r.first_rcpt,
    rcptCount: r.rcpt_count, subject: r.subject, size: r.size, score: r.score, status: r.status, statusAt: r.status_at,
  };
}
