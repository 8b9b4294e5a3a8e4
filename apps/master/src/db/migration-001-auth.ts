import type { Migration } from '@moat/storage';

/**
 * Who may do what, and the record of what they did: users, console sessions, API tokens,
 * the audit trail, and the versioned rules (the rules history is an audit trail too).
 * Times are epoch milliseconds. No secret is stored in the clear: passwords as scrypt hashes,
 * session and API tokens as SHA-256 hashes (they are long random strings, so a fast hash is
 * enough; a stolen database does not yield a usable credential).
 */
export const AUTH_MIGRATION: Migration = {
  version: 1,
  description: 'users, sessions, api tokens, audit, rules versions',
  sql: `
    CREATE TABLE users (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      username TEXT NOT NULL UNIQUE COLLATE NOCASE,
      password_hash TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('auditor', 'operator', 'admin')),
      created_at INTEGER NOT NULL,
      disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
    );

    CREATE TABLE sessions (
      id TEXT PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      ip TEXT NOT NULL DEFAULT '',
      user_agent TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE INDEX sessions_expiry ON sessions (expires_at);

    CREATE TABLE api_tokens (
      id TEXT PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      token_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_used_at INTEGER,
      revoked_at INTEGER
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_id);

    CREATE TABLE audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      username TEXT NOT NULL,
      via TEXT NOT NULL,
      ip TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL DEFAULT '',
      details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX audit_username ON audit (username);
    CREATE INDEX audit_action ON audit (action);

    CREATE TABLE rules_versions (
      version INTEGER PRIMARY KEY,
      document TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      comment TEXT NOT NULL DEFAULT ''
    );
  `,
};
