import type { Db } from '@moat/storage';
import type { OutboxEvent } from '@moat/protocol';

interface OutboxRow {
  seq: number;
  type: OutboxEvent['type'];
  payload: string;
  created_at: number;
}

/** The scanner's side of "every event reaches the master exactly once": read in order, delete when acknowledged. */
export interface OutboxStore {
  pending(limit: number): OutboxEvent[];
  /** Delete every event up to and including `seq` (the master stored them). */
  acknowledge(seq: number): number;
  backlog(): number;
}

export function createOutboxStore(db: Db): OutboxStore {
  const pendingStmt = db.prepare<[number], OutboxRow>('SELECT seq, type, payload, created_at FROM outbox ORDER BY seq LIMIT ?');
  const ackStmt = db.prepare('DELETE FROM outbox WHERE seq <= ?');
  const countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox');
  return {
    pending: (limit) => pendingStmt.all(limit).map((r) => ({ seq: r.seq, type: r.type, payload: JSON.parse(r.payload) as unknown, createdAt: r.created_at })),
    acknowledge: (seq) => ackStmt.run(seq).changes,
    backlog: () => countStmt.get()?.n ?? 0,
  };
}
