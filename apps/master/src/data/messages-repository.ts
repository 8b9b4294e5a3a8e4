import { sql, type Kysely } from 'kysely';
import type { MessageLogged, Refusal } from '@moat/protocol';
import type { QuarantineStatus } from './quarantine-writer.ts';
import { pageOf } from './cursor.ts';
import { locateEntries } from './log-entries.ts';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import type { NodesSeenByData } from '../db/tables/data.ts';
import { commonSearch, pageSize, textTerms, Where, type CommonSearch } from './search-filters.ts';
import { textStrategies, type TextStrategies } from './text-search.ts';

export interface MessageSearch extends CommonSearch {
  /** deliver | tag | quarantine | reject */
  readonly action?: string;
  /** queued | quarantined | rejected | deferred | delivered | bounced | partially-bounced */
  readonly status?: string;
}

/** A row of the message log as lists show it. Times are epoch ms. */
export interface MessageSummary {
  readonly nodeId: string;
  readonly nodeName: string | null;
  readonly id: string;
  readonly receivedAt: number;
  readonly clientIp: string;
  readonly mailFrom: string;
  readonly firstRcpt: string;
  readonly rcptCount: number;
  readonly subject: string;
  readonly size: number;
  readonly action: string;
  readonly score: number;
  readonly status: string;
}

export interface MessageDetail extends MessageSummary {
  readonly helo: string;
  readonly rcptTo: string[];
  readonly messageId: string;
  readonly reasons: MessageLogged['reasons'];
  readonly rulesVersion: number;
  readonly delivery: {
    readonly attempts: number;
    readonly lastAttemptAt: number | null;
    readonly delivered: string[];
    readonly deferred: string[];
    readonly bounced: string[];
    readonly detail: string;
    readonly dsnStatus: string | null;
  };
  /** The quarantine entry of this message, if it was quarantined. */
  readonly quarantine: { readonly status: QuarantineStatus; readonly statusAt: number | null } | null;
  /** The copy kept on the node (retention), if one was: `kept`, or `expired` with when and why. */
  readonly retained: RetainedState | null;
  /** Set when the entry is a transaction refused at connect, MAIL FROM or RCPT TO (status `refused`). */
  readonly refusal: Refusal | null;
}

export interface RetainedState {
  readonly status: 'kept' | 'expired';
  readonly size: number;
  readonly expiredAt: number | null;
  /** `age` (past the retention days) or `budget` (oldest over the disk budget). */
  readonly reason: string | null;
}

export interface Page<T> {
  readonly items: T[];
  /** Cursor of the next (older) page; null on the last page. */
  readonly next: string | null;
}

const SUMMARY_COLUMNS = ['m.rid', 'm.node_id', 'n.name as node_name', 'm.id', 'm.received_at', 'm.client_ip', 'm.mail_from', 'm.first_rcpt', 'm.rcpt_count',
  'm.subject', 'm.size', 'm.action', 'm.score', 'm.status'] as const;

interface SummaryRow {
  rid: number; node_id: string; node_name: string | null; id: string; received_at: number; client_ip: string; mail_from: string;
  first_rcpt: string; rcpt_count: number; subject: string; size: number; action: string; score: number; status: string;
}

/**
 * A message log search as a Kysely query (pure: exposed for tests and EXPLAIN); `strategies` is
 * how its subject and address substrings are looked up (text-search.ts). Fetches limit + 1 rows to know if there
 * is a next page.
 */
export function buildMessageSearch(engine: Engine, q: MessageSearch, strategies: TextStrategies = 'index') {
  const where = new Where();
  const { from, timeCol, ridCol } = commonSearch(engine, { table: 'messages', rcptTable: 'message_rcpts', timeCol: 'received_at', lateral: engine === 'postgres' }, 'm', q, where, strategies);
  if (q.action !== undefined) where.add(sql`m.action = ${q.action}`);
  if (q.status !== undefined) where.add(sql`m.status = ${q.status}`);
  const limit = pageSize(q.limit);
  const query = sql<SummaryRow>`SELECT ${sql.join(SUMMARY_COLUMNS.map((c) => sql.raw(c.replace(' as ', ' AS '))))} FROM ${from} LEFT JOIN nodes n ON n.id = m.node_id ${where.toSql()}
    ORDER BY ${sql.ref(timeCol)} DESC, ${sql.ref(ridCol)} DESC LIMIT ${sql.lit(limit + 1)}`;
  return { query, limit };
}

/** Search the central message log, newest first, one page at a time. */
export async function searchMessages(db: Kysely<MasterSchema>, engine: Engine, q: MessageSearch): Promise<Page<MessageSummary>> {
  const { query, limit } = buildMessageSearch(engine, q, await textStrategies(db, engine, 'messages', textTerms(q)));
  const { rows } = await query.execute(db);
  return pageOf(rows, limit, (r) => r.received_at, toSummary);
}

/** One message of the log with everything the master knows about it. */
export async function getMessage(db: Kysely<MasterSchema>, nodeId: string, id: string): Promise<MessageDetail | undefined> {
  // Through the id→day index: on PostgreSQL one day's partition is planned and read.
  const [key] = await locateEntries(db, nodeId, [id]);
  if (!key) return undefined;
  const row = await db.withTables<NodesSeenByData>().selectFrom('messages as m')
    .leftJoin('nodes as n', 'n.id', 'm.node_id')
    .leftJoin('quarantine as q', (j) => j.onRef('q.id', '=', 'm.id').onRef('q.node_id', '=', 'm.node_id'))
    .select([...SUMMARY_COLUMNS, 'm.helo', 'm.rcpt_to', 'm.message_id', 'm.reasons', 'm.rules_version', 'm.attempts', 'm.last_attempt_at', 'm.delivered', 'm.deferred',
      'm.bounced', 'm.delivery_detail', 'm.dsn_status', 'q.status as q_status', 'q.status_at as q_status_at', 'm.retained_bytes', 'm.retained_gone_at',
      'm.retained_gone_reason', 'm.refusal'])
    .where('m.received_at', '=', key.received_at).where('m.rid', '=', key.rid).executeTakeFirst();
  if (!row) return undefined;
  return {
    ...toSummary(row),
    helo: row.helo,
    rcptTo: JSON.parse(row.rcpt_to) as string[],
    messageId: row.message_id,
    reasons: JSON.parse(row.reasons) as MessageLogged['reasons'],
    rulesVersion: row.rules_version,
    delivery: {
      attempts: row.attempts, lastAttemptAt: row.last_attempt_at, detail: row.delivery_detail, dsnStatus: row.dsn_status,
      delivered: JSON.parse(row.delivered) as string[], deferred: JSON.parse(row.deferred) as string[], bounced: JSON.parse(row.bounced) as string[],
    },
    quarantine: row.q_status === null ? null : { status: row.q_status, statusAt: row.q_status_at },
    retained: row.retained_bytes === null ? null : {
      status: row.retained_gone_at === null ? 'kept' : 'expired', size: row.retained_bytes, expiredAt: row.retained_gone_at, reason: row.retained_gone_reason,
    },
    refusal: row.refusal === null ? null : (JSON.parse(row.refusal) as Refusal),
  };
}

function toSummary(r: SummaryRow): MessageSummary {
  return {
    nodeId: r.node_id, nodeName: r.node_name, id: r.id, receivedAt: r.received_at, clientIp: r.client_ip, mailFrom: r.mail_from,
    firstRcpt: r.first_rcpt, rcptCount: r.rcpt_count, subject: r.subject, size: r.size, action: r.action, score: r.score, status: r.status,
  };
}
