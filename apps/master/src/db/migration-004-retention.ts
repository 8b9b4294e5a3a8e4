import type { Migration } from '@moat/storage';

/**
 * Retention: which log entries have a copy kept on their node, and when it went. Columns on
 * `messages` rather than a table of their own: one per entry at most, read with the entry, and
 * ADD COLUMN is instant on a log of millions of rows (no rewrite).
 * - retained_bytes: size of the copy (from `message.logged`); NULL when no copy was kept.
 * - retained_gone_at / retained_gone_reason: from `retained.expired` (`age` or `budget`).
 */
export const RETENTION_MIGRATION: Migration = {
  version: 4,
  description: 'retained copies of logged messages',
  sql: `
    ALTER TABLE messages ADD COLUMN retained_bytes INTEGER;
    ALTER TABLE messages ADD COLUMN retained_gone_at INTEGER;
    ALTER TABLE messages ADD COLUMN retained_gone_reason TEXT;
  `,
  postgres: `
    ALTER TABLE messages ADD COLUMN retained_bytes BIGINT;
    ALTER TABLE messages ADD COLUMN retained_gone_at BIGINT;
    ALTER TABLE messages ADD COLUMN retained_gone_reason TEXT;
  `,
};
