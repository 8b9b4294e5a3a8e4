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
  {
    version: 2,
    description: 'retained copies of accepted messages',
    // One row per kept copy (the file is a hard link under retained/); the usage row is kept
    // by triggers so the disk budget is checked in O(1) inside every accepting transaction.
    sql: `
      CREATE TABLE retained (
        id TEXT PRIMARY KEY REFERENCES messages (id),
        file TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        prepend_headers TEXT NOT NULL,
        subject_prefix TEXT NOT NULL
      );
      CREATE INDEX retained_created ON retained (created_at);

      CREATE TABLE retained_usage (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        bytes INTEGER NOT NULL,
        copies INTEGER NOT NULL
      );
      INSERT INTO retained_usage (one, bytes, copies) VALUES (1, 0, 0);
      CREATE TRIGGER retained_added AFTER INSERT ON retained BEGIN
        UPDATE retained_usage SET bytes = bytes + NEW.size, copies = copies + 1;
      END;
      CREATE TRIGGER retained_removed AFTER DELETE ON retained BEGIN
        UPDATE retained_usage SET bytes = bytes - OLD.size, copies = copies - 1;
      END;
    `,
  },
  {
    version: 3,
    description: 'outbox epochs: the process run that wrote each outbox event',
    // One row per scanner start: events from seq `from_seq` on were written by the run `epoch`
    // (see store/outbox-store.ts). Rows older than the oldest pending event are pruned at start.
    sql: `
      CREATE TABLE outbox_epochs (
        from_seq INTEGER PRIMARY KEY,
        epoch TEXT NOT NULL
      );
    `,
  },
];
