import type { Migration } from '@moat/storage';

/**
 * Management failover (docs/masters.md): the replication log and this master's place in it.
 *
 * - `repl_changes`: one row per changed row of every replicated table, written by triggers
 *   (failover/change-capture.ts) in the same transaction as the change, so the log can never
 *   miss a committed change nor hold one that rolled back. `seq` is the log position, `epoch`
 *   the term of the active master that wrote it (log matching: the same seq with the same
 *   epoch means the same history up to there). `row` is the new row (JSON), `old` the whole
 *   old row for updates and deletes: what a master that wrote changes nobody else got needs
 *   to undo them (failover/change-apply.ts rollback) instead of taking a full copy.
 * - `repl_state` (one row): the highest epoch this master has seen (persisted before it is
 *   acted on), whether changes are captured (only while active: a standby copies the active
 *   master's log rows verbatim instead), and the position applied so far (seq, its epoch,
 *   the active master's time of that change), and whether a snapshot is half applied (such a
 *   master holds part of the state and must not become active).
 */
export const REPLICATION_MIGRATION: Migration = {
  version: 9,
  description: 'replication log and fencing epoch (management failover)',
  sql: `
    CREATE TABLE repl_changes (
      seq INTEGER PRIMARY KEY,
      epoch INTEGER NOT NULL,
      at INTEGER NOT NULL,
      tbl TEXT NOT NULL,
      op TEXT NOT NULL,
      old TEXT,
      row TEXT
    );
    CREATE TABLE repl_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      epoch INTEGER NOT NULL DEFAULT 0,
      capture INTEGER NOT NULL DEFAULT 0,
      applied_seq INTEGER NOT NULL DEFAULT 0,
      applied_epoch INTEGER NOT NULL DEFAULT 0,
      applied_at INTEGER NOT NULL DEFAULT 0,
      copying INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO repl_state (id) VALUES (1);
  `,
  // Trigger replication is SQLite's alone; on PostgreSQL, HA is the engine's own (docs/database.md).
  postgres: null,
};
