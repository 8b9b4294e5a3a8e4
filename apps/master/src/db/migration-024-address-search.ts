import type { Migration } from '@moat/storage';

/**
 * Substring search on addresses, indexed (issue 21, item 4: "search indexes that stay fast").
 * A `match=contains` sender or recipient search, and a recipient domain search, were a LIKE
 * scan along the time index (36–61 ms at 100,000 quarantine entries, seconds at 10 million);
 * they now have what subject search has (data/text-search.ts):
 *
 * - SQLite: contentless FTS5 trigram tables, rowid = the row's rid, one per table and column:
 *   the sender (`messages_sender_fts`, `quarantine_sender_fts` of `mail_from`) and the recipients
 *   (`messages_rcpt_fts`, `quarantine_rcpt_fts` of `rcpt_to`, the JSON array's text, which is
 *   what those searches look in), written by the ingest next to the row and emptied by
 *   retention. A table per column, not one with two: FTS5 answers a column filter by reading
 *   the term's rows in every column (a sender term whose trigrams are in every recipient list
 *   read them all: 113 ms on a million rows). Existing rows are indexed here (the one pass the
 *   upgrade costs: about as long as building the subject index took).
 * - PostgreSQL: a pg_trgm GIN index on both columns of each table (PostgreSQL maintains it;
 *   `LIKE '%term%'` uses it). Declared on the log's partitioned parent, it is built on every day
 *   partition now, and a partition attached later (`moat_log_partition`) gets its own, as with
 *   every index of the parent. Building it holds writes to the tables until the migration commits.
 *
 * Addresses are stored lower-cased, so the trigram index's case folding changes nothing: the
 * LIKE that decided before still decides, the index only narrows the rows it tests.
 */
export const ADDRESS_SEARCH_MIGRATION: Migration = {
  version: 24,
  description: 'trigram indexes of the sender and the recipients for substring search',
  sql: `
    -- As messages_fts (migration 2): automerge 16 for the log's indexes, whose writes are the ingest's.
    CREATE VIRTUAL TABLE messages_sender_fts USING fts5 (mail_from, tokenize = 'trigram', content = '', contentless_delete = 1);
    INSERT INTO messages_sender_fts (messages_sender_fts, rank) VALUES ('automerge', 16);
    INSERT INTO messages_sender_fts (rowid, mail_from) SELECT rid, mail_from FROM messages;
    CREATE VIRTUAL TABLE messages_rcpt_fts USING fts5 (rcpt_to, tokenize = 'trigram', content = '', contentless_delete = 1);
    INSERT INTO messages_rcpt_fts (messages_rcpt_fts, rank) VALUES ('automerge', 16);
    INSERT INTO messages_rcpt_fts (rowid, rcpt_to) SELECT rid, rcpt_to FROM messages;
    CREATE VIRTUAL TABLE quarantine_sender_fts USING fts5 (mail_from, tokenize = 'trigram', content = '', contentless_delete = 1);
    INSERT INTO quarantine_sender_fts (rowid, mail_from) SELECT rid, mail_from FROM quarantine;
    CREATE VIRTUAL TABLE quarantine_rcpt_fts USING fts5 (rcpt_to, tokenize = 'trigram', content = '', contentless_delete = 1);
    INSERT INTO quarantine_rcpt_fts (rowid, rcpt_to) SELECT rid, rcpt_to FROM quarantine;
  `,
  postgres: `
    CREATE INDEX messages_address_trgm ON messages USING gin (mail_from gin_trgm_ops, rcpt_to gin_trgm_ops);
    CREATE INDEX quarantine_address_trgm ON quarantine USING gin (mail_from gin_trgm_ops, rcpt_to gin_trgm_ops);
  `,
};
