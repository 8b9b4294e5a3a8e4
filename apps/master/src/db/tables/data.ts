import type { Generated } from 'kysely';

/**
 * The message log, quarantine index, events, roll-ups (migrations 2, 4, 8, 12, 15, 22, 24). The
 * FTS5 tables of SQLite (subjects: `messages_fts`, `quarantine_fts`; addresses:
 * `messages_sender_fts`, `messages_rcpt_fts`, `quarantine_sender_fts`, `quarantine_rcpt_fts`)
 * are not typed: only data/text-search.ts touches them, and PostgreSQL has none (pg_trgm
 * indexes instead).
 */
export interface DataTables {
  events: EventsTable;
  node_event_warnings: NodeEventWarningsTable;
  messages: MessagesTable;
  message_rcpts: MessageRcptsTable;
  message_ids: MessageIdsTable;
  quarantine: QuarantineTable;
  quarantine_rcpts: QuarantineRcptsTable;
  pending_changes: PendingChangesTable;
  traffic_hourly: TrafficHourlyTable;
  top_senders_daily: TopSendersDailyTable;
  top_heads: TopSendersDailyTable;
  top_head_floors: TopHeadFloorsTable;
  top_head_lists: TopHeadListsTable;
}

export interface EventsTable {
  ord: Generated<number>;
  node_id: string;
  epoch: string;
  seq: number;
  digest: string;
  type: string;
  created_at: number;
  stored_at: number;
  rejected: string | null;
}

export interface NodeEventWarningsTable {
  node_id: string;
  rewound: number;
  last_at: number;
  last_epoch: string;
  last_seq: number;
}

export interface MessagesTable {
  rid: Generated<number>;
  node_id: string;
  id: string;
  received_at: number;
  client_ip: string;
  helo: string;
  mail_from: string;
  sender_domain: string;
  /** JSON array of the (lower-cased, unique) recipients. */
  rcpt_to: string;
  first_rcpt: string;
  rcpt_count: number;
  subject: string;
  message_id: string;
  size: number;
  action: string;
  score: number;
  /** JSON array of the verdict's reasons. */
  reasons: string;
  rules_version: number;
  status: string;
  attempts: Generated<number>;
  last_attempt_at: number | null;
  delivered: Generated<string>;
  deferred: Generated<string>;
  bounced: Generated<string>;
  delivery_detail: Generated<string>;
  dsn_status: string | null;
  retained_bytes: number | null;
  retained_gone_at: number | null;
  retained_gone_reason: string | null;
  /** JSON of the refusal, for a transaction refused before DATA. */
  refusal: string | null;
  event_count: Generated<number>;
}

export interface MessageRcptsTable {
  rcpt: string;
  received_at: number;
  rid: number;
}

/**
 * The id→day index (migration 22): where a node's message is in the log. A table on
 * PostgreSQL (the log's partitions are found by day; it is written by data/log-entries.ts and
 * owns the rid sequence), a view over `messages` on SQLite (read only).
 */
export interface MessageIdsTable {
  id: string;
  node_id: string;
  received_at: number;
  rid: Generated<number>;
}

export interface QuarantineTable {
  rid: Generated<number>;
  node_id: string;
  id: string;
  file: string;
  created_at: number;
  mail_from: string;
  sender_domain: string;
  rcpt_to: string;
  first_rcpt: string;
  rcpt_count: number;
  subject: string;
  size: number;
  score: number;
  reasons: string;
  status: Generated<'held' | 'released' | 'deleted' | 'expired'>;
  status_at: number | null;
}

export interface QuarantineRcptsTable {
  rcpt: string;
  created_at: number;
  rid: number;
}

export interface PendingChangesTable {
  node_id: string;
  target_id: string;
  /** events.ord of the held change (the order it is applied in). */
  seq: number;
  type: string;
  payload: string;
}

export interface TrafficHourlyTable {
  hour: number;
  node_id: string;
  action: string;
  count: number;
  bytes: number;
}

export interface TopSendersDailyTable {
  kind: string;
  day: number;
  node_id: string;
  value: string;
  count: number;
}

/** The count of the first value left out of a day's head (`top_heads` has the same columns as `top_senders_daily`): data/top-heads.ts. */
export interface TopHeadFloorsTable {
  kind: string;
  day: number;
  node_id: string;
  floor: number;
}

/** A (day, node) whose heads are taken, and the messages its traffic held then. */
export interface TopHeadListsTable {
  day: number;
  node_id: string;
  messages: number;
}

/**
 * The columns of `nodes` (the cluster area's table) that the data area reads: a node's name
 * for lists and filters, and the last acknowledged seq the ingest moves forward. Added to a
 * query builder with `withTables<NodesSeenByData>()`, so the cluster area keeps the table's own type.
 */
export type NodesSeenByData = {
  nodes: { id: string; name: string; last_acked_seq: number };
};
