import { normalizeAddress } from './addresses.ts';
import { beforeCursorParams, beforeCursorSql, decodeCursor } from './cursor.ts';
import { containsPattern } from './sql-like.ts';

/** Filters shared by the message log and quarantine searches. All optional. */
export interface CommonSearch {
  /** Sender address; `@domain` for a whole domain. */
  readonly sender?: string;
  /** Recipient address; `@domain` for a whole domain. */
  readonly recipient?: string;
  /** How sender/recipient match: the whole address (default; uses an index) or any part of it. */
  readonly match?: 'exact' | 'contains';
  /** Substring of the subject, case-insensitive. */
  readonly subject?: string;
  /** A node's name or id. */
  readonly node?: string;
  /** Epoch ms, inclusive. */
  readonly from?: number;
  /** Epoch ms, exclusive. */
  readonly to?: number;
  /** 1..500, default 50. */
  readonly limit?: number;
  /** `next` of the previous page. */
  readonly cursor?: string;
}

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

/** The table names a search runs over: its main table, recipients table and time column. */
export interface SearchTables {
  readonly table: string;
  readonly rcptTable: string;
  readonly timeCol: string;
}

/** A WHERE clause under construction: conditions and their parameters, in order. */
export class Where {
  readonly conditions: string[] = [];
  readonly params: unknown[] = [];
  add(sql: string, ...params: unknown[]): void {
    this.conditions.push(sql);
    this.params.push(...params);
  }
  toSql(): string {
    return this.conditions.length === 0 ? '' : `WHERE ${this.conditions.join(' AND ')}`;
  }
}

/**
 * FROM, ordering columns and the common conditions. An exact recipient search is driven by
 * the recipients table (its index is (rcpt, time, rid), so it walks newest first and stops);
 * everything else by the main table. Returns the column names to order and page by.
 */
export function commonSearch(t: SearchTables, alias: string, q: CommonSearch, where: Where): { from: string; timeCol: string; ridCol: string } {
  const exact = (q.match ?? 'exact') === 'exact';
  const recipient = q.recipient === undefined ? undefined : normalizeAddress(q.recipient);
  const byRcptTable = recipient !== undefined && exact && !recipient.startsWith('@');
  const from = byRcptTable ? `${t.rcptTable} r JOIN ${t.table} ${alias} ON ${alias}.rid = r.rid` : `${t.table} ${alias}`;
  const timeCol = byRcptTable ? `r.${t.timeCol}` : `${alias}.${t.timeCol}`;
  const ridCol = byRcptTable ? 'r.rid' : `${alias}.rid`;

  if (recipient !== undefined) {
    if (byRcptTable) where.add('r.rcpt = ?', recipient);
    // rcpt_to is a JSON array of strings: `"…@domain"` ends an element.
    else if (exact) where.add(`${alias}.rcpt_to LIKE ? ESCAPE '\\'`, `${containsPattern(`${recipient}"`)}`);
    else where.add(`${alias}.rcpt_to LIKE ? ESCAPE '\\'`, containsPattern(recipient));
  }
  if (q.sender !== undefined) {
    const sender = normalizeAddress(q.sender);
    if (!exact) where.add(`${alias}.mail_from LIKE ? ESCAPE '\\'`, containsPattern(sender));
    else if (sender.startsWith('@')) where.add(`${alias}.sender_domain = ?`, sender.slice(1));
    else where.add(`${alias}.mail_from = ?`, sender);
  }
  if (q.node !== undefined) where.add(`${alias}.node_id IN (SELECT id FROM nodes WHERE name = ? UNION ALL SELECT ?)`, q.node, q.node);
  if (q.from !== undefined) where.add(`${timeCol} >= ?`, q.from);
  if (q.to !== undefined) where.add(`${timeCol} < ?`, q.to);
  if (q.cursor !== undefined) {
    const cursor = decodeCursor(q.cursor);
    if (!cursor) throw new RangeError('cursor is not one this API returned');
    where.add(beforeCursorSql(timeCol, ridCol), ...beforeCursorParams(cursor));
  }
  return { from, timeCol, ridCol };
}

/** Is there a filter more selective than a status/time scan (then the status index must not drive)? */
export function hasSelectiveFilter(q: CommonSearch): boolean {
  return (q.match ?? 'exact') === 'exact' && (q.sender !== undefined || q.recipient !== undefined);
}

export function pageSize(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.trunc(limit ?? DEFAULT_PAGE)), MAX_PAGE);
}
