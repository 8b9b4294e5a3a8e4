import { randomBytes } from 'node:crypto';
import type { Db } from '@moat/storage';
import type { OutboxEvent } from '@moat/protocol';

interface OutboxRow {
  seq: number;
  type: OutboxEvent['type'];
  payload: string;
  created_at: number;
  epoch: string | null;
}

/** The scanner's side of "every event reaches the master exactly once": read in order, delete when acknowledged. */
export interface OutboxStore {
  /** This process run's epoch: every event written from now on carries it. */
  readonly epoch: string;
  pending(limit: number): OutboxEvent[];
  /** Delete every event up to and including `seq` (the master stored them). */
  acknowledge(seq: number): number;
  backlog(): number;
}

/** A fresh outbox epoch: random, so no copy of the data folder (a backup, a VM snapshot) can bring an old one back. */
export function newOutboxEpoch(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The outbox, and the epoch of the process run that writes it. `seq` comes from SQLite's
 * AUTOINCREMENT, so it only rises in one copy of the database; but a restored backup (or a
 * snapshot) starts again from the copy's last seq, and numbers the master has already stored
 * would be used again for new events. So every start draws a new random epoch and records, in
 * `outbox_epochs`, the first seq it will write: an event's epoch is that of the latest run
 * that started at or below its seq, and the master keys events on (node, epoch, seq). Must be
 * created before anything of this run writes to the outbox.
 */
export function createOutboxStore(db: Db, options: { epoch?: string } = {}): OutboxStore {
  const epoch = options.epoch ?? newOutboxEpoch();
  db.transaction(() => {
    const last = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get()?.seq ?? 0;
    const from = last + 1;
    // A run that wrote nothing is replaced; runs no pending event belongs to are forgotten.
    db.prepare('INSERT OR REPLACE INTO outbox_epochs (from_seq, epoch) VALUES (?, ?)').run(from, epoch);
    const oldest = db.prepare<[], { seq: number | null }>('SELECT min(seq) AS seq FROM outbox').get()?.seq ?? from;
    db.prepare('DELETE FROM outbox_epochs WHERE from_seq < (SELECT max(from_seq) FROM outbox_epochs WHERE from_seq <= ?)').run(oldest);
  })();
  const pendingStmt = db.prepare<[number], OutboxRow>(
    `SELECT o.seq, o.type, o.payload, o.created_at,
       (SELECT e.epoch FROM outbox_epochs e WHERE e.from_seq <= o.seq ORDER BY e.from_seq DESC LIMIT 1) AS epoch
     FROM outbox o ORDER BY o.seq LIMIT ?`,
  );
  const ackStmt = db.prepare('DELETE FROM outbox WHERE seq <= ?');
  const countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox');
  return {
    epoch,
    // An event written before the scanner had epochs (an upgrade with a backlog) goes without one.
    pending: (limit) => pendingStmt.all(limit).map((r) => ({ ...(r.epoch ? { epoch: r.epoch } : {}), seq: r.seq, type: r.type, payload: JSON.parse(r.payload) as unknown, createdAt: r.created_at })),
    acknowledge: (seq) => ackStmt.run(seq).changes,
    backlog: () => countStmt.get()?.n ?? 0,
  };
}
