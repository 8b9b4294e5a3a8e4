import type { Migration } from '@moat/storage';

/**
 * Management failover is retired (issue 21: several active masters on a replicated PostgreSQL
 * took its place, docs/database.md). Its SQLite machinery goes: the replication log and state
 * of migration 9, and the capture triggers a master with `failover` put on every table (named
 * `repl_<table>_ins|upd|del`). Left behind, a trigger would make every write to its table fail
 * once `repl_state` is gone, so each is dropped by name: the tables below are every table that
 * existed while the triggers could be made (migrations 1 to 19); `IF EXISTS`, as a master that
 * never ran failover has none.
 */
const CAPTURED_TABLES = [
  'api_tokens', 'audit', 'callout_cache', 'digest_sent', 'digest_settings', 'digest_state', 'enduser_copies', 'enduser_sessions',
  'events', 'greylist', 'join_tokens', 'learn_events', 'learn_messages', 'learn_nodes', 'message_rcpts', 'messages',
  'node_event_warnings', 'nodes', 'pending_changes', 'quarantine', 'quarantine_rcpts', 'recipient_list_entries',
  'recipient_list_versions', 'report_rounds', 'report_schedules', 'rules_versions', 'sessions', 'top_senders_daily',
  'traffic_hourly', 'users', 'verification_sources',
] as const;

export const RETIRE_REPLICATION_MIGRATION: Migration = {
  version: 23,
  description: 'management failover retired: its replication log, state and capture triggers dropped',
  sql: [
    ...CAPTURED_TABLES.flatMap((t) => ['ins', 'upd', 'del'].map((op) => `DROP TRIGGER IF EXISTS "repl_${t}_${op}";`)),
    'DROP TABLE IF EXISTS repl_changes;',
    'DROP TABLE IF EXISTS repl_state;',
  ].join('\n'),
  // Migration 9 made nothing on PostgreSQL.
  postgres: null,
};
