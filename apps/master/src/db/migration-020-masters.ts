import type { Migration } from '@moat/storage';

/**
 * The masters sharing one database, and their shared secret (issue 21: a request for a node
 * reaches the master that holds its link; cluster/peer-*.ts). Standard SQL that PostgreSQL runs
 * as it is; with SQLite (one master) the tables stay empty.
 * - `masters`: one row per master (`node.name`), the URL the others forward requests to, its
 *   TLS certificate's SHA-256 fingerprint (pinned by the others; '' without TLS) and when it
 *   last said it was alive. A row not refreshed for a while is a master that is gone.
 * - `master_secret`: one row, the secret masters prove themselves with to each other, made by
 *   the first master that starts (random, never logged).
 */
export const MASTERS_MIGRATION: Migration = {
  version: 20,
  description: 'the masters sharing the database, and their peer secret',
  sql: `
    CREATE TABLE masters (
      name TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      fingerprint TEXT NOT NULL DEFAULT '',
      seen_at BIGINT NOT NULL
    );
    CREATE TABLE master_secret (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      secret TEXT NOT NULL
    );
  `,
};
