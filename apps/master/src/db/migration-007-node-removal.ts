import type { Migration } from '@moat/storage';

/**
 * A node can be removed from the cluster: its row stays (the message log and quarantine index
 * still name it) but it is marked removed and its credential erased, so it can never connect
 * with it again; joining anew with the cluster's join secret brings the name back.
 */
export const NODE_REMOVAL_MIGRATION: Migration = {
  version: 7,
  description: 'node removal',
  sql: `ALTER TABLE nodes ADD COLUMN removed_at INTEGER;`,
  postgres: `ALTER TABLE nodes ADD COLUMN removed_at BIGINT;`,
};
