import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Engine } from '../db/database.ts';
import { normalizeAddress } from './addresses.ts';
import { beforeCursor, decodeCursor } from './cursor.ts';
import { textCondition, type TextStrategies, type TextTable, type TextTerm } from './text-search.ts';

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
  readonly table: TextTable;
  readonly rcptTable: string;
  readonly timeCol: string;
  /**
   * Join a recipient's rows to the main table one by one (`CROSS JOIN LATERAL`, PostgreSQL
   * only), so a page of them is read in order and the walk stops: for the log partitioned by
   * day, whose join PostgreSQL misestimates and would hash over every partition instead.
   */
  readonly lateral?: boolean;
}

/** A WHERE clause under construction: conditions as Kysely SQL fragments (values bound as parameters, for either engine). */
export class Where {
  readonly conditions: RawBuilder<unknown>[] = [];
  add(condition: RawBuilder<unknown>): void {
    this.conditions.push(condition);
  }
  toSql(): RawBuilder<unknown> {
    return this.conditions.length === 0 ? sql`` : sql`WHERE ${sql.join(this.conditions, sql` AND `)}`;
  }
}

/** `alias.node_id` is the node named `node`, or the node whose id is `node`. */
export function nodeCondition(column: string, node: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} IN (SELECT id FROM nodes WHERE name = ${node} UNION ALL SELECT CAST(${node} AS TEXT))`;
}

/**
 * The substring terms of a search (text-search.ts looks them up): the subject; the sender and
 * the recipient under `match=contains`; a recipient domain (`@example.com`), which is the
 * recipient list's text containing `@example.com"` (rcpt_to is a JSON array of strings:
 * `"…@domain"` ends an element).
 */
export function textTerms(q: CommonSearch): TextTerm[] {
  const contains = (q.match ?? 'exact') === 'contains';
  const terms: TextTerm[] = [];
  if (q.subject !== undefined) terms.push({ text: 'subject', term: q.subject });
  if (q.sender !== undefined && contains) terms.push({ text: 'sender', term: normalizeAddress(q.sender) });
  if (q.recipient !== undefined) {
    const recipient = normalizeAddress(q.recipient);
    if (contains) terms.push({ text: 'recipients', term: recipient });
    else if (recipient.startsWith('@')) terms.push({ text: 'recipients', term: `${recipient}"` });
  }
  return terms;
}

/**
 * FROM, ordering columns and the common conditions. An exact recipient search is driven by
 * the recipients table (its index is (rcpt, time, rid), so it walks newest first and stops);
 * everything else by the main table. `strategies`: how each substring term is looked up
 * (text-search.ts). Returns the column names to order and page by, and whether a text index
 * drives the search (`textIndexed`).
 */
export function commonSearch(engine: Engine, t: SearchTables, alias: string, q: CommonSearch, where: Where, strategies: TextStrategies): { from: RawBuilder<unknown>; timeCol: string; ridCol: string; textIndexed: boolean } {
  const exact = (q.match ?? 'exact') === 'exact';
  const recipient = q.recipient === undefined ? undefined : normalizeAddress(q.recipient);
  const byRcptTable = recipient !== undefined && exact && !recipient.startsWith('@');
  const main = sql`${sql.table(t.table)} ${sql.raw(alias)}`;
  // On the time too: the log's key on PostgreSQL is (time, rid), one partition per day. LIMIT 1 keeps PostgreSQL from flattening the lateral join back into a hash join.
  const rcpts = sql`${sql.table(t.rcptTable)} r`;
  const byKey = (a: string) => sql`${sql.ref(`${a}.${t.timeCol}`)} = ${sql.ref(`r.${t.timeCol}`)} AND ${sql.ref(`${a}.rid`)} = r.rid`;
  const from = !byRcptTable ? main
    : t.lateral ? sql`${rcpts} CROSS JOIN LATERAL (SELECT * FROM ${sql.table(t.table)} x WHERE ${byKey('x')} LIMIT 1) ${sql.raw(alias)}`
    : sql`${rcpts} JOIN ${main} ON ${byKey(alias)}`;
  const timeCol = byRcptTable ? `r.${t.timeCol}` : `${alias}.${t.timeCol}`;
  const ridCol = byRcptTable ? 'r.rid' : `${alias}.rid`;

  if (byRcptTable) where.add(sql`r.rcpt = ${recipient}`);
  if (q.sender !== undefined && exact) {
    const sender = normalizeAddress(q.sender);
    if (sender.startsWith('@')) where.add(sql`${sql.ref(`${alias}.sender_domain`)} = ${sender.slice(1)}`);
    else where.add(sql`${sql.ref(`${alias}.mail_from`)} = ${sender}`);
  }
  let textIndexed = false;
  for (const term of textTerms(q)) {
    const text = textCondition(engine, alias, t.table, term, strategies);
    where.add(text.condition);
    textIndexed ||= text.indexed;
  }
  if (q.node !== undefined) where.add(nodeCondition(`${alias}.node_id`, q.node));
  if (q.from !== undefined) where.add(sql`${sql.ref(timeCol)} >= ${q.from}`);
  if (q.to !== undefined) where.add(sql`${sql.ref(timeCol)} < ${q.to}`);
  if (q.cursor !== undefined) {
    const cursor = decodeCursor(q.cursor);
    if (!cursor) throw new RangeError('cursor is not one this API returned');
    where.add(beforeCursor(timeCol, ridCol, cursor));
  }
  return { from, timeCol, ridCol, textIndexed };
}

/** Is there a filter more selective than a status/time scan (then the status index must not drive)? */
export function hasSelectiveFilter(q: CommonSearch): boolean {
  return (q.match ?? 'exact') === 'exact' && (q.sender !== undefined || q.recipient !== undefined);
}

export function pageSize(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.trunc(limit ?? DEFAULT_PAGE)), MAX_PAGE);
}
