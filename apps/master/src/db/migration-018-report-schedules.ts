import type { Migration } from '@moat/storage';

/**
 * Scheduled reports by mail (issue 20). Standard SQL that PostgreSQL runs as well: text ids
 * made by the master (no AUTOINCREMENT or SERIAL), epoch milliseconds as BIGINT, no
 * WITHOUT ROWID.
 * - `report_schedules`: one admin-made schedule each, as a validated JSON document (period,
 *   send time, recipients, which reports); `created_at` bounds the rounds it sends (none that
 *   came due before it existed).
 * - `report_rounds`: one row per schedule and period, the idempotency record of the scheduled
 *   rounds: claimed before the report is handed to a scanner, marked `sent` with the scanner's
 *   queue id once it is on that scanner's disk, so a restart or a second master never sends a
 *   period twice. A failure is kept with its error and retried with a back-off.
 */
export const REPORT_SCHEDULES_MIGRATION: Migration = {
  version: 18,
  description: 'scheduled reports by mail',
  sql: `
    CREATE TABLE report_schedules (
      id TEXT PRIMARY KEY,
      document TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      updated_by TEXT NOT NULL
    );
    CREATE TABLE report_rounds (
      schedule_id TEXT NOT NULL REFERENCES report_schedules (id) ON DELETE CASCADE,
      period_start BIGINT NOT NULL,
      period_end BIGINT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
      attempts INTEGER NOT NULL,
      last_attempt_at BIGINT NOT NULL,
      sent_at BIGINT,
      node_id TEXT,
      queue_id TEXT,
      recipients TEXT NOT NULL,
      error TEXT,
      PRIMARY KEY (schedule_id, period_start, period_end)
    );
    CREATE INDEX report_rounds_recent ON report_rounds (schedule_id, last_attempt_at);
  `,
};
