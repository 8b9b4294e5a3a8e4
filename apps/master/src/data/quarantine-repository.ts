import type { Db } from '@moat/storage';
import type { QuarantineAdded } from '@moat/protocol';
import { encodeCursor } from './cursor.ts';
import { setQuarantineStatus, type QuarantineStatus } from './quarantine-writer.ts';
import { commonSearch, hasSelectiveFilter, pageSize, Where, type CommonSearch } from './search-filters.ts';
import { containsPattern, ftsPhrase } from './sql-like.ts';
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
/** The trigram index needs three characters; shorter subject terms fall back to a LIKE scan. */
const FTS_MIN_CHARS = 3;
/** Past this many subject matches, walking the time index and testing LIKE finds a page sooner than sorting every match. */
export const FTS_LIST_CAP = 2000;

/**
 * How a subject term is searched. `index`: the trigram index lists the matching rows, which
 * are then sorted by time: fast while they are few. `scan`: walk the status/time index newest
 * first testing LIKE, stopping at a page: fast when matches are common, slow when rare. The
 * choice counts matches up to FTS_LIST_CAP (a capped index read). Non-ASCII terms always use
 * the index: LIKE folds only ASCII case, the trigram index folds Unicode case.
 */
export type SubjectStrategy = 'index' | 'scan';

export function subjectStrategy(db: Db, subject: string): SubjectStrategy {
  if ([...subject].length < FTS_MIN_CHARS) return 'scan';
  if (/[^\x00-\x7f]/.test(subject)) return 'index';
  const n = db.prepare<[string], number>(`SELECT COUNT(*) FROM (SELECT 1 FROM quarantine_fts WHERE quarantine_fts MATCH ? LIMIT ${FTS_LIST_CAP})`).pluck().get(ftsPhrase(subject));
  return (n ?? 0) < FTS_LIST_CAP ? 'index' : 'scan';
}

interface EntryRow {
  rid: number; node_id: string; node_name: string | null; id: string; created_at: number; mail_from: string; first_rcpt: string;
  rcpt_count: number; subject: string; size: number; score: number; status: QuarantineStatus; status_at: number | null;
}

/**
 * The SQL of a quarantine search (pure: exposed for tests and EXPLAIN). When an exact address
 * or a subject term narrows the search, the status test is written `+q.status` so SQLite does
 * not pick the (status, created_at) index to drive it: on a quarantine of a million held
 * messages that index matches nearly every row.
 */
export function buildQuarantineSearch(q: QuarantineSearch, strategy: SubjectStrategy = 'index'): { sql: string; params: unknown[]; limit: number } {
  const where = new Where();
  const { from, timeCol, ridCol } = commonSearch({ table: 'quarantine', rcptTable: 'quarantine_rcpts', timeCol: 'created_at' }, 'q', q, where);
  const subject = q.subject;
  const fts = subject !== undefined && strategy === 'index' && [...subject].length >= FTS_MIN_CHARS;
  if (subject !== undefined) {
    if (fts) where.add('q.rid IN (SELECT rowid FROM quarantine_fts WHERE quarantine_fts MATCH ?)', ftsPhrase(subject));
    else where.add(`q.subject LIKE ? ESCAPE '\\'`, containsPattern(subject));
  }
  const status = q.status ?? 'held';
  if (status !== 'all') where.add(hasSelectiveFilter(q) || fts ? '+q.status = ?' : 'q.status = ?', status);
  const limit = pageSize(q.limit);
  const sql = `SELECT ${COLUMNS} FROM ${from} LEFT JOIN nodes n ON n.id = q.node_id ${where.toSql()}
    ORDER BY ${timeCol} DESC, ${ridCol} DESC LIMIT ${limit + 1}`;
  return { sql, params: where.params, limit };
}

/** Search the quarantine index of every node, newest first, one page at a time. */
export function searchQuarantine(db: Db, q: QuarantineSearch): Page<QuarantineEntry> {
  const { sql, params, limit } = buildQuarantineSearch(q, q.subject === undefined ? 'index' : subjectStrategy(db, q.subject));
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
