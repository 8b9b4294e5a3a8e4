import type { Migration } from '@moat/storage';

/** Node registry: every scanner that ever joined, with its credential's hash and last state. */
export const CLUSTER_MIGRATION: Migration = {
  version: 3,
  description: 'node registry',
  sql: `
    CREATE TABLE nodes (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      credential_hash TEXT NOT NULL,
      joined_at INTEGER NOT NULL,
      address TEXT NOT NULL DEFAULT '',
      smtp_address TEXT NOT NULL DEFAULT '',
      software TEXT NOT NULL DEFAULT '',
      rules_version INTEGER NOT NULL DEFAULT 0,
      last_seen INTEGER NOT NULL DEFAULT 0,
      online INTEGER NOT NULL DEFAULT 0,
      queue_depth INTEGER NOT NULL DEFAULT 0,
      outbox_backlog INTEGER NOT NULL DEFAULT 0,
      last_acked_seq INTEGER NOT NULL DEFAULT 0
    );
  `,
  postgres: `
    CREATE TABLE nodes (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      credential_hash TEXT NOT NULL,
      joined_at BIGINT NOT NULL,
      address TEXT NOT NULL DEFAULT '',
      smtp_address TEXT NOT NULL DEFAULT '',
      software TEXT NOT NULL DEFAULT '',
      rules_version BIGINT NOT NULL DEFAULT 0,
      last_seen BIGINT NOT NULL DEFAULT 0,
      online INTEGER NOT NULL DEFAULT 0,
      queue_depth BIGINT NOT NULL DEFAULT 0,
      outbox_backlog BIGINT NOT NULL DEFAULT 0,
      last_acked_seq BIGINT NOT NULL DEFAULT 0
    );
  `,
};
