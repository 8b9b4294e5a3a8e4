import type { Migration } from '@moat/storage';

/**
 * Quarantine digests and the end users' page. All digest state lives here, in the master's
 * database, so a standby master that takes this database over (issue #9) carries on sending.
 * - `digest_settings`: the admin's settings document (one row, validated JSON).
 * - `digest_state`: the link-signing secret (generated once) and when the last round finished.
 * - `digest_sent`: which held message was already listed to which recipient, so each appears
 *   in exactly one digest (keyed by the quarantine index's stable rid).
 * - `enduser_copies`: a recipient's own action on a message held for several recipients
 *   (their copy released, or removed from their view); the message stays held for the others.
 * - `enduser_sessions`: short-lived recipient-scoped sessions a signed link opens; only the
 *   SHA-256 of the cookie's token is stored, as for console sessions.
 */
export const DIGESTS_MIGRATION: Migration = {
  version: 5,
  description: 'quarantine digests and end-user sessions',
  sql: `
    CREATE TABLE digest_settings (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      document TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      updated_by TEXT NOT NULL
    );
    CREATE TABLE digest_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      secret TEXT NOT NULL,
      last_run_at INTEGER
    );
    CREATE TABLE digest_sent (
      rid INTEGER NOT NULL,
      rcpt TEXT NOT NULL,
      sent_at INTEGER NOT NULL,
      node_id TEXT NOT NULL,
      queue_id TEXT NOT NULL,
      PRIMARY KEY (rid, rcpt)
    ) WITHOUT ROWID;
    CREATE INDEX digest_sent_at ON digest_sent (sent_at);
    CREATE TABLE enduser_copies (
      rid INTEGER NOT NULL,
      rcpt TEXT NOT NULL,
      action TEXT NOT NULL CHECK (action IN ('release', 'delete')),
      at INTEGER NOT NULL,
      queue_id TEXT,
      PRIMARY KEY (rid, rcpt)
    ) WITHOUT ROWID;
    CREATE TABLE enduser_sessions (
      id TEXT PRIMARY KEY,
      recipient TEXT NOT NULL,
      csrf TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    );
    CREATE INDEX enduser_sessions_expiry ON enduser_sessions (expires_at);
  `,
  postgres: `
    CREATE TABLE digest_settings (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      document TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      updated_by TEXT NOT NULL
    );
    CREATE TABLE digest_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      secret TEXT NOT NULL,
      last_run_at BIGINT
    );
    CREATE TABLE digest_sent (
      rid BIGINT NOT NULL,
      rcpt TEXT NOT NULL,
      sent_at BIGINT NOT NULL,
      node_id TEXT NOT NULL,
      queue_id TEXT NOT NULL,
      PRIMARY KEY (rid, rcpt)
    );
    CREATE INDEX digest_sent_at ON digest_sent (sent_at);
    CREATE TABLE enduser_copies (
      rid BIGINT NOT NULL,
      rcpt TEXT NOT NULL,
      action TEXT NOT NULL CHECK (action IN ('release', 'delete')),
      at BIGINT NOT NULL,
      queue_id TEXT,
      PRIMARY KEY (rid, rcpt)
    );
    CREATE TABLE enduser_sessions (
      id TEXT PRIMARY KEY,
      recipient TEXT NOT NULL,
      csrf TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL
    );
    CREATE INDEX enduser_sessions_expiry ON enduser_sessions (expires_at);
  `,
};
