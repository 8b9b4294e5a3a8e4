import type { Migration } from '@moat/storage';

/**
 * Two things several masters on one PostgreSQL must share (issue 21, item 2):
 * - the login limiter's counts (auth/shared-login-limiter.ts): one row per counted key
 *   (a client address, an account at an address, an account), its recent attempts as
 *   comma-separated epoch milliseconds, swept once `expires_at` (the last attempt plus the
 *   window) has passed; and the addresses that signed in to an account, exempt from the
 *   account-wide count, swept after `knownForMs`;
 * - the leases of the jobs that must run once across masters (db/leases.ts): one row per job,
 *   its holder, its fencing number (raised on every change of holder) and its expiry.
 */
export const LIMITS_LEASES_MIGRATION: Migration = {
  version: 21,
  description: 'shared login limiter counts, job leases with fencing numbers',
  sql: `
    CREATE TABLE login_attempts (
      key TEXT PRIMARY KEY,
      attempts TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX login_attempts_expires ON login_attempts (expires_at);
    CREATE TABLE login_known (
      key TEXT PRIMARY KEY,
      signed_in_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX login_known_signed_in ON login_known (signed_in_at);
    CREATE TABLE job_leases (
      name TEXT PRIMARY KEY,
      holder TEXT NOT NULL,
      fence INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
  `,
  postgres: `
    CREATE TABLE login_attempts (
      key TEXT PRIMARY KEY,
      attempts TEXT NOT NULL,
      expires_at BIGINT NOT NULL
    );
    CREATE INDEX login_attempts_expires ON login_attempts (expires_at);
    CREATE TABLE login_known (
      key TEXT PRIMARY KEY,
      signed_in_at BIGINT NOT NULL
    );
    CREATE INDEX login_known_signed_in ON login_known (signed_in_at);
    CREATE TABLE job_leases (
      name TEXT PRIMARY KEY,
      holder TEXT NOT NULL,
      fence BIGINT NOT NULL,
      expires_at BIGINT NOT NULL
    );
  `,
};
