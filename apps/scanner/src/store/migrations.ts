import type { Migration } from '@moat/storage';

/**
 * The scanner's SQLite schema. Add a migration, never edit a shipped one.
 * Times are milliseconds since the epoch; address lists are JSON arrays.
 */
export const SCANNER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'message log, quarantine index, relay queue, outbox',
    sql: `
      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        received_at INTEGER NOT NULL,
        client_ip TEXT NOT NULL,
        helo TEXT NOT NULL,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        subject TEXT NOT NULL,
        message_id TEXT NOT NULL,
        size INTEGER NOT NULL,
        action TEXT NOT NULL,
        score REAL NOT NULL,
        reasons TEXT NOT NULL,
        rules_version INTEGER NOT NULL,
        status TEXT NOT NULL
      );
      CREATE INDEX messages_received ON messages (received_at);

      CREATE TABLE quarantine (
        id TEXT PRIMARY KEY REFERENCES messages (id),
        file TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        subject TEXT NOT NULL,
        size INTEGER NOT NULL,
        score REAL NOT NULL,
        reasons TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'held'
      );
      CREATE INDEX quarantine_created ON quarantine (created_at);

      CREATE TABLE queue (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        file TEXT NOT NULL,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        prepend_headers TEXT NOT NULL,
        subject_prefix TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        kind TEXT NOT NULL DEFAULT 'message'
      );
      CREATE INDEX queue_due ON queue (next_attempt_at);

      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
];
