import type { Migration } from '@moat/storage';

/**
 * The central message log, the quarantine index of every node, and the roll-ups that reports
 * read. Written only by data/ingest.ts (and markQuarantine); read by data/*-repository.ts.
 *
 * Decisions (see apps/master/src/data/README.md for the longer story):
 * - `messages` and `quarantine` have an explicit `rid INTEGER PRIMARY KEY` and UNIQUE(id, node_id)
 *   as their natural key: the rid is stable across VACUUM (an implicit rowid is not, and the FTS
 *   index refers to it), makes every secondary index end in (…, rid) for free, and gives the
 *   keyset cursor (time, rid) a total order. UNIQUE(id, node_id) puts `id` first because the
 *   quarantine is looked up by id across nodes.
 * - Search indexes end in the time column, so "filter, newest first, 50 at a time" walks one
 *   index backwards and stops: received_at alone (any filter that is not selective: node,
 *   action, status, subject on the log); exact sender; sender domain; exact recipient through a
 *   recipients table (a message can have thousands; `first_rcpt` is only for display).
 * - Subject search: both the log and the quarantine have a contentless FTS5 trigram index of the
 *   subject (rowid = rid): a substring found in milliseconds among millions, case-insensitive,
 *   for terms of 3+ characters; a term in thousands of subjects walks the time index with LIKE
 *   instead (data/text-search.ts). Without it a rare term on a 10-million-row log was a
 *   scan of the whole range: 23 s for one day with a cold cache, minutes for a month. It is
 *   the ingest's largest single cost (see test/bench/results/master-data.md): paid, because
 *   the ingest has headroom over real mail rates and an admin's search has none.
 * - `match=contains` on addresses has no index: a LIKE scan along the time index, bounded by
 *   the request's time range and stopped at a page (until migration 24 gave it one).
 * - Addresses are stored lower-cased (searching is their job here; the original message on its
 *   scanner keeps the original spelling).
 * - Roll-ups are keyed by (kind, day, value), not (day, kind, value): the top-N report asks for
 *   one kind over a day range, which is then one index range.
 */
export const DATA_MIGRATION: Migration = {
  version: 2,
  description: 'message log, quarantine index, event idempotency and report roll-ups',
  sql: `
    -- Idempotency record: one row per (node, outbox seq) ever received, applied or rejected.
    CREATE TABLE events (
      node_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      type TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      stored_at INTEGER NOT NULL,
      rejected TEXT,
      PRIMARY KEY (node_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE messages (
      rid INTEGER PRIMARY KEY,
      node_id TEXT NOT NULL,
      id TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      client_ip TEXT NOT NULL,
      helo TEXT NOT NULL,
      mail_from TEXT NOT NULL,
      sender_domain TEXT NOT NULL,
      rcpt_to TEXT NOT NULL,
      first_rcpt TEXT NOT NULL,
      rcpt_count INTEGER NOT NULL,
      subject TEXT NOT NULL,
      message_id TEXT NOT NULL,
      size INTEGER NOT NULL,
      action TEXT NOT NULL,
      score REAL NOT NULL,
      reasons TEXT NOT NULL,
      rules_version INTEGER NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_attempt_at INTEGER,
      delivered TEXT NOT NULL DEFAULT '[]',
      deferred TEXT NOT NULL DEFAULT '[]',
      bounced TEXT NOT NULL DEFAULT '[]',
      delivery_detail TEXT NOT NULL DEFAULT '',
      dsn_status TEXT,
      UNIQUE (id, node_id)
    );
    CREATE INDEX messages_received ON messages (received_at);
    CREATE INDEX messages_sender ON messages (mail_from, received_at);
    CREATE INDEX messages_sender_domain ON messages (sender_domain, received_at);
    -- Contentless: the subject lives in messages; rowid = messages.rid. contentless_delete lets a
    -- retention job remove rows. automerge 16 (default 4): merge segments less eagerly; measured
    -- on a million-row log, +35% ingest throughput for a search that reads a few more segments.
    CREATE VIRTUAL TABLE messages_fts USING fts5 (subject, tokenize = 'trigram', content = '', contentless_delete = 1);
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 16);
    CREATE TABLE message_rcpts (
      rcpt TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      rid INTEGER NOT NULL,
      PRIMARY KEY (rcpt, received_at, rid)
    ) WITHOUT ROWID;

    CREATE TABLE quarantine (
      rid INTEGER PRIMARY KEY,
      node_id TEXT NOT NULL,
      id TEXT NOT NULL,
      file TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      mail_from TEXT NOT NULL,
      sender_domain TEXT NOT NULL,
      rcpt_to TEXT NOT NULL,
      first_rcpt TEXT NOT NULL,
      rcpt_count INTEGER NOT NULL,
      subject TEXT NOT NULL,
      size INTEGER NOT NULL,
      score REAL NOT NULL,
      reasons TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'held',
      status_at INTEGER,
      UNIQUE (id, node_id)
    );
    CREATE INDEX quarantine_status ON quarantine (status, created_at);
    CREATE INDEX quarantine_created ON quarantine (created_at);
    CREATE INDEX quarantine_sender ON quarantine (mail_from, created_at);
    CREATE INDEX quarantine_sender_domain ON quarantine (sender_domain, created_at);
    CREATE INDEX quarantine_size ON quarantine (status, node_id, size);
    CREATE TABLE quarantine_rcpts (
      rcpt TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      rid INTEGER NOT NULL,
      PRIMARY KEY (rcpt, created_at, rid)
    ) WITHOUT ROWID;
    -- Contentless: the subject lives in quarantine; rowid = quarantine.rid. (A twentieth of the
    -- log's writes: the default merge policy is fine.)
    CREATE VIRTUAL TABLE quarantine_fts USING fts5 (subject, tokenize = 'trigram', content = '', contentless_delete = 1);

    -- A change that arrived before the row it changes (a delivery status before its log entry,
    -- a release before the quarantine entry): applied when that row arrives.
    CREATE TABLE pending_changes (
      node_id TEXT NOT NULL,
      target_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      PRIMARY KEY (node_id, target_id, seq)
    ) WITHOUT ROWID;

    -- Roll-ups, incremented by message.logged only. Times are UTC ms at the bucket's start.
    CREATE TABLE traffic_hourly (
      hour INTEGER NOT NULL,
      node_id TEXT NOT NULL,
      action TEXT NOT NULL,
      count INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      PRIMARY KEY (hour, node_id, action)
    ) WITHOUT ROWID;
    CREATE TABLE top_senders_daily (
      kind TEXT NOT NULL,
      day INTEGER NOT NULL,
      value TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (kind, day, value)
    ) WITHOUT ROWID;
  `,
  postgres: `
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    CREATE TABLE events (
      node_id TEXT NOT NULL,
      seq BIGINT NOT NULL,
      type TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      stored_at BIGINT NOT NULL,
      rejected TEXT,
      PRIMARY KEY (node_id, seq)
    );

    CREATE TABLE messages (
      rid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      node_id TEXT NOT NULL,
      id TEXT NOT NULL,
      received_at BIGINT NOT NULL,
      client_ip TEXT NOT NULL,
      helo TEXT NOT NULL,
      mail_from TEXT NOT NULL,
      sender_domain TEXT NOT NULL,
      rcpt_to TEXT NOT NULL,
      first_rcpt TEXT NOT NULL,
      rcpt_count INTEGER NOT NULL,
      subject TEXT NOT NULL,
      message_id TEXT NOT NULL,
      size BIGINT NOT NULL,
      action TEXT NOT NULL,
      score DOUBLE PRECISION NOT NULL,
      reasons TEXT NOT NULL,
      rules_version BIGINT NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_attempt_at BIGINT,
      delivered TEXT NOT NULL DEFAULT '[]',
      deferred TEXT NOT NULL DEFAULT '[]',
      bounced TEXT NOT NULL DEFAULT '[]',
      delivery_detail TEXT NOT NULL DEFAULT '',
      dsn_status TEXT,
      UNIQUE (id, node_id)
    );
    CREATE INDEX messages_received ON messages (received_at);
    CREATE INDEX messages_sender ON messages (mail_from, received_at);
    CREATE INDEX messages_sender_domain ON messages (sender_domain, received_at);
    CREATE INDEX messages_subject_trgm ON messages USING gin (subject gin_trgm_ops);
    CREATE TABLE message_rcpts (
      rcpt TEXT NOT NULL,
      received_at BIGINT NOT NULL,
      rid BIGINT NOT NULL,
      PRIMARY KEY (rcpt, received_at, rid)
    );

    CREATE TABLE quarantine (
      rid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      node_id TEXT NOT NULL,
      id TEXT NOT NULL,
      file TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      mail_from TEXT NOT NULL,
      sender_domain TEXT NOT NULL,
      rcpt_to TEXT NOT NULL,
      first_rcpt TEXT NOT NULL,
      rcpt_count INTEGER NOT NULL,
      subject TEXT NOT NULL,
      size BIGINT NOT NULL,
      score DOUBLE PRECISION NOT NULL,
      reasons TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'held',
      status_at BIGINT,
      UNIQUE (id, node_id)
    );
    CREATE INDEX quarantine_status ON quarantine (status, created_at);
    CREATE INDEX quarantine_created ON quarantine (created_at);
    CREATE INDEX quarantine_sender ON quarantine (mail_from, created_at);
    CREATE INDEX quarantine_sender_domain ON quarantine (sender_domain, created_at);
    CREATE INDEX quarantine_size ON quarantine (status, node_id, size);
    CREATE INDEX quarantine_subject_trgm ON quarantine USING gin (subject gin_trgm_ops);
    CREATE TABLE quarantine_rcpts (
      rcpt TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      rid BIGINT NOT NULL,
      PRIMARY KEY (rcpt, created_at, rid)
    );

    CREATE TABLE pending_changes (
      node_id TEXT NOT NULL,
      target_id TEXT NOT NULL,
      seq BIGINT NOT NULL,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      PRIMARY KEY (node_id, target_id, seq)
    );

    CREATE TABLE traffic_hourly (
      hour BIGINT NOT NULL,
      node_id TEXT NOT NULL,
      action TEXT NOT NULL,
      count BIGINT NOT NULL,
      bytes BIGINT NOT NULL,
      PRIMARY KEY (hour, node_id, action)
    );
    CREATE TABLE top_senders_daily (
      kind TEXT NOT NULL,
      day BIGINT NOT NULL,
      value TEXT NOT NULL,
      count BIGINT NOT NULL,
      PRIMARY KEY (kind, day, value)
    );
  `,
};
