import type { Migration } from '@moat/storage';

/**
 * The heads of the daily top lists (data/top-heads.ts; docs/database.md, "Top lists over many
 * days"): for each finished day, node and kind, the busiest TOP_HEAD_SIZE values of
 * `top_senders_daily` (`top_heads`), the count of the first value left out (`top_head_floors`:
 * no value outside the head counts more that day), and how many messages the day's traffic
 * roll-up held when they were taken (`top_head_lists`: a list whose day has gained messages
 * since is stale, and read in full instead). Written by a once-only job; a top list over many
 * days reads the heads and looks up only the few values that can lead.
 */
const tables = (bigint: string, withoutRowid: string) => `
    CREATE TABLE top_heads (
      kind TEXT NOT NULL,
      day ${bigint} NOT NULL,
      node_id TEXT NOT NULL,
      value TEXT NOT NULL,
      count ${bigint} NOT NULL,
      PRIMARY KEY (kind, day, node_id, value)
    )${withoutRowid};
    CREATE TABLE top_head_floors (
      kind TEXT NOT NULL,
      day ${bigint} NOT NULL,
      node_id TEXT NOT NULL,
      floor ${bigint} NOT NULL,
      PRIMARY KEY (kind, day, node_id)
    )${withoutRowid};
    CREATE TABLE top_head_lists (
      day ${bigint} NOT NULL,
      node_id TEXT NOT NULL,
      messages ${bigint} NOT NULL,
      PRIMARY KEY (day, node_id)
    )${withoutRowid};
`;

export const TOP_HEADS_MIGRATION: Migration = {
  version: 25,
  description: 'heads of the daily top lists, for top lists over many days',
  sql: tables('INTEGER', ' WITHOUT ROWID'),
  postgres: tables('BIGINT', ''),
};
