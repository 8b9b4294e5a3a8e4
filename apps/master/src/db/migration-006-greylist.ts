import type { Migration } from '@moat/storage';

/**
 * The cluster's shared greylist: one row per (client network, sender, recipient) triplet.
 * Rows past `expires_at` are swept (greylist/greylist-store.ts).
 */
export const GREYLIST_MIGRATION: Migration = {
  version: 6,
  description: 'greylist triplets',
  sql: `
    CREATE TABLE greylist (
      network TEXT NOT NULL,
      sender TEXT NOT NULL,
      recipient TEXT NOT NULL,
      first_seen INTEGER NOT NULL,
      passed_at INTEGER,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (network, sender, recipient)
    ) WITHOUT ROWID;
    CREATE INDEX greylist_expires ON greylist (expires_at);
  `,
  postgres: `
    CREATE TABLE greylist (
      network TEXT NOT NULL,
      sender TEXT NOT NULL,
      recipient TEXT NOT NULL,
      first_seen BIGINT NOT NULL,
      passed_at BIGINT,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (network, sender, recipient)
    );
    CREATE INDEX greylist_expires ON greylist (expires_at);
  `,
};
