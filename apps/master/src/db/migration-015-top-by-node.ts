import type { Migration } from '@moat/storage';

/**
 * The daily top lists per node, so the reports' node filter narrows them as it narrows the
 * traffic chart. Rows from before have no node: they stay in the cluster's lists (node '') and
 * are in no single node's.
 */
export const TOP_BY_NODE_MIGRATION: Migration = {
  version: 15,
  description: 'top lists per node',
  sql: `
    CREATE TABLE top_senders_daily_by_node (
      kind TEXT NOT NULL,
      day INTEGER NOT NULL,
      node_id TEXT NOT NULL,
      value TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (kind, day, node_id, value)
    ) WITHOUT ROWID;
    INSERT INTO top_senders_daily_by_node (kind, day, node_id, value, count) SELECT kind, day, '', value, count FROM top_senders_daily;
    DROP TABLE top_senders_daily;
    ALTER TABLE top_senders_daily_by_node RENAME TO top_senders_daily;
  `,
  postgres: `
    CREATE TABLE top_senders_daily_by_node (
      kind TEXT NOT NULL,
      day BIGINT NOT NULL,
      node_id TEXT NOT NULL,
      value TEXT NOT NULL,
      count BIGINT NOT NULL,
      PRIMARY KEY (kind, day, node_id, value)
    );
    INSERT INTO top_senders_daily_by_node (kind, day, node_id, value, count) SELECT kind, day, '', value, count FROM top_senders_daily;
    DROP TABLE top_senders_daily;
    ALTER TABLE top_senders_daily_by_node RENAME TO top_senders_daily;
    ALTER INDEX top_senders_daily_by_node_pkey RENAME TO top_senders_daily_pkey;
  `,
};
