import type { Migration } from '@moat/storage';

/**
 * Events keyed on the scanner's run as well as its sequence (docs/cluster.md, "Events: exactly
 * once"). A scanner restored from a backup, or from a disk snapshot, numbers its outbox again
 * from where the copy stood; keyed on (node, seq) alone, its new events were taken for events
 * already stored and dropped.
 *
 * - `events` is rebuilt: `ord` is the order the master stored events in (what held changes are
 *   ordered by now, since seqs are no longer comparable across epochs); the key is (node,
 *   epoch, seq, digest): `epoch` is the scanner run that wrote the event ('' before protocol 2),
 *   `digest` a hash of its type, time and payload ('' for rows stored before this migration,
 *   which then match any content, as before). A re-sent event has the same digest and is
 *   skipped; a different event under a (node, epoch, seq) already stored is a sequence that
 *   went backwards within a run: it is stored, and counted below.
 * - `node_event_warnings`: per node, how many such events came in and the last one, for
 *   `GET /api/v1/nodes` and the log.
 * - `pending_changes.seq` holds `events.ord` from now on (the rows held before keep their
 *   node seq; they are rare and short-lived).
 */
export const EVENT_EPOCHS_MIGRATION: Migration = {
  version: 12,
  description: 'events keyed on the scanner run (epoch), its seq and the content digest',
  sql: `
    CREATE TABLE events_v12 (
      ord INTEGER PRIMARY KEY,
      node_id TEXT NOT NULL,
      epoch TEXT NOT NULL,
      seq INTEGER NOT NULL,
      digest TEXT NOT NULL,
      type TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      stored_at INTEGER NOT NULL,
      rejected TEXT
    );
    INSERT INTO events_v12 (node_id, epoch, seq, digest, type, created_at, stored_at, rejected)
      SELECT node_id, '', seq, '', type, created_at, stored_at, rejected FROM events ORDER BY stored_at, node_id, seq;
    DROP TABLE events;
    ALTER TABLE events_v12 RENAME TO events;
    CREATE UNIQUE INDEX events_key ON events (node_id, epoch, seq, digest);

    CREATE TABLE node_event_warnings (
      node_id TEXT PRIMARY KEY,
      rewound INTEGER NOT NULL,
      last_at INTEGER NOT NULL,
      last_epoch TEXT NOT NULL,
      last_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
  `,
};
