import type { Migration } from '@moat/storage';

/**
 * Cluster-wide learning (docs/detection.md, "Learning"): the ordered learn log every scanner
 * applies to its own engines, the messages it teaches (the first 512 KB, base64, in the
 * database so a standby master has them too), and what each node has applied.
 */
export const LEARN_MIGRATION: Migration = {
  version: 14,
  description: 'learn log',
  sql: `
    CREATE TABLE learn_messages (
      digest TEXT PRIMARY KEY,
      size INTEGER NOT NULL,
      data TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE learn_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      class TEXT NOT NULL CHECK (class IN ('spam', 'ham')),
      unlearn TEXT CHECK (unlearn IN ('spam', 'ham')),
      digest TEXT NOT NULL REFERENCES learn_messages (digest),
      size INTEGER NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('admin', 'user', 'cli')),
      actor TEXT NOT NULL,
      origin_node TEXT,
      origin_message TEXT,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX learn_events_digest ON learn_events (digest, seq);
    CREATE TABLE learn_nodes (
      node_id TEXT PRIMARY KEY,
      seq INTEGER NOT NULL DEFAULT 0,
      applied_at INTEGER,
      error TEXT,
      error_at INTEGER
    );
  `,
};
