import type { Db } from '@moat/storage';
import type { QuarantineAdded } from '@moat/protocol';
import { encodeCursor } from './cursor.ts';
import { setQuarantineStatus, type QuarantineStatus } from './quarantine-writer.ts';
import { commonSearch, hasSelectiveFilter, pageSize, Where, type CommonSearch } from './search-filters.ts';
import { addSubjectCondition, subjectStrategy, type SubjectStrategy } from './subject-search.ts';
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

const COLUMNS = `q.rid, q.node_id, n.name AS node_name, q.id, q.created_at, q.mail_from, q.first_rcpt, q.rcpt_count, q.subject, q.size, q.score, q.status, q.status_at`;
interface EntryRow {
  rid: number; node_id: string; node_name: string | null; id: string; created_at: number; mail_from: string; first_rcpt: string;
  rcpt_count: number; subject: string; size: number; score: number; status: QuarantineStatus; status_at: number | null;
}

/**
 * The SQL of a quarantine search (pure: exposed for tests and EXPLAIN); `strategy` is how a
 * subject term is looked up (subject-search.ts). When an exact address or an indexed subject
 * term narrows the search, the status test is written `+q.status` so SQLite does
 * not pick the (status, created_at) index to drive it: on a quarantine of a million held
 * messages that index matches nearly every row.
 */
export function buildQuarantineSearch(q: QuarantineSearch, strategy: SubjectStrategy = 'index'): { sql: string; params: unknown[]; limit: number } {
  const where = new Where();
  const { from, timeCol, ridCol } = commonSearch({ table: 'quarantine', rcptTable: 'quarantine_rcpts', timeCol: 'created_at' }, 'q', q, where);
  const fts = q.subject !== undefined && addSubjectCondition(where, 'q', 'quarantine_fts', q.subject, strategy);
  const status = q.status ?? 'held';
  if (status !== 'all') where.add(hasSelectiveFilter(q) || fts ? '+q.status = ?' : 'q.status = ?', status);
  const limit = pageSize(q.limit);
  const sql = `SELECT ${COLUMNS} FROM ${from} LEFT JOIN nodes n ON n.id = q.node_id ${where.toSql()}
    ORDER BY ${timeCol} DESC, ${ridCol} DESC LIMIT ${limit + 1}`;
  return { sql, params: where.params, limit };
}

/** Search the quarantine index of every node, newest first, one page at a time. */
export function searchQuarantine(db: Db, q: QuarantineSearch): Page<QuarantineEntry> {
  const { sql, params, limit } = buildQuarantineSearch(q, q.subject === undefined ? 'index' : subjectStrategy(db, 'quarantine_fts', q.subject));
  const rows = db.prepare<unknown[], EntryRow>(sql).all(...params);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(toEntry), next: rows.length > limit && last ? encodeCursor({ time: last.created_at, rid: last.rid }) : null };
}

/**
 * A quarantined message by id, whichever node holds it (ids are 20 random characters, so
 * unique in practice; should two nodes ever share one, the held, newest entry wins).
 */
export function getQuarantined(db: Db, id: string): QuarantineDetail | undefined {
  const row = db.prepare<[string], EntryRow & { file: string; rcpt_to: string; reasons: string }>(`SELECT ${COLUMNS}, q.file, q.rcpt_to, q.reasons
    FROM quarantine q LEFT JOIN nodes n ON n.id = q.node_id WHERE q.id = ?
    ORDER BY q.status = 'held' DESC, q.created_at DESC LIMIT 1`).get(id);
  if (!row) return undefined;
  return { ...toEntry(row), file: row.file, rcptTo: JSON.parse(row.rcpt_to) as string[], reasons: JSON.parse(row.reasons) as QuarantineAdded['reasons'] };
}

/**
 * Record a release or deletion the master just made (the scanner's own `quarantine.changed`
 * event confirms it later; applying both is harmless). Status only moves forward
 * (held → released → deleted): returns false if the entry is missing or already there.
 */
export function markQuarantine(db: Db, nodeId: string, id: string, status: QuarantineStatus, at: number = Date.now()): boolean {
  return setQuarantineStatus(db, nodeId, id, status, at);
}

function toEntry(r: EntryRow): QuarantineEntry {
  return {
    nodeId: r.node_id, nodeName: r.node_name, id: r.id, createdAt: r.created_at, mailFrom: r.mail_from, firstRcpt: r.first_rcpt,
    rcptCount: r.rcpt_count, subject: r.subject, size: r.size, score: r.score, status: r.status, statusAt: r.status_at,
  };
}
