import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '@moat/storage';
import { MAX_LEARN_BYTES, type LearnClass } from '@moat/protocol';

/** Who taught: an admin in the console or API, an end user on the digest page, or `moat learn`. */
export type LearnSource = 'admin' | 'user' | 'cli';

/** A message to learn: its start (what is kept and sent), its size and the SHA-256 of all of it. */
export interface LearnMessage {
  readonly head: Buffer;
  readonly size: number;
  readonly digest: string;
}

export interface LearnInput {
  readonly message: LearnMessage;
  readonly class: LearnClass;
  readonly source: LearnSource;
  readonly actor: string;
  /** The logged message it came from, if any. */
  readonly origin?: { readonly nodeId: string; readonly messageId: string };
}

export interface LearnEventRow {
  readonly seq: number;
  readonly id: string;
  readonly class: LearnClass;
  /** A reversal: the class taught before, which every node forgets first. */
  readonly unlearn: LearnClass | null;
  readonly digest: string;
  readonly size: number;
  readonly source: LearnSource;
  readonly actor: string;
  readonly originNode: string | null;
  readonly originMessage: string | null;
  readonly createdAt: number;
}

export interface NodeLearnState {
  readonly nodeId: string;
  readonly seq: number;
  readonly appliedAt: number | null;
  readonly error: string | null;
  readonly errorAt: number | null;
}

interface EventDbRow {
  seq: number; id: string; class: LearnClass; unlearn: LearnClass | null; digest: string; size: number; source: LearnSource; actor: string;
  origin_node: string | null; origin_message: string | null; created_at: number;
}

const EVENT_COLUMNS = 'seq, id, class, unlearn, digest, size, source, actor, origin_node, origin_message, created_at';
const toEvent = (r: EventDbRow): LearnEventRow => ({
  seq: r.seq, id: r.id, class: r.class, unlearn: r.unlearn, digest: r.digest, size: r.size, source: r.source, actor: r.actor,
  originNode: r.origin_node, originMessage: r.origin_message, createdAt: r.created_at,
});

/** A whole message in memory as a LearnMessage. */
export const learnMessageOf = (raw: Buffer): LearnMessage => ({ head: raw.subarray(0, MAX_LEARN_BYTES), size: raw.length, digest: createHash('sha256').update(raw).digest('hex') });

/**
 * The master's learn log. One event per change of what a message is: teaching the same message
 * the same class again is no new event (idempotent), teaching it the other class is a new event
 * that names the class to forget first (a reversal). Sequence numbers order the log; every
 * scanner applies it in that order.
 */
export function createLearnStore(db: Db) {
  const latest = db.prepare<[string], EventDbRow>(`SELECT ${EVENT_COLUMNS} FROM learn_events WHERE digest = ? ORDER BY seq DESC LIMIT 1`);
  const insertMessage = db.prepare('INSERT OR IGNORE INTO learn_messages (digest, size, data, created_at) VALUES (?, ?, ?, ?)');
  const insertEvent = db.prepare<[string, LearnClass, LearnClass | null, string, number, LearnSource, string, string | null, string | null, number]>(
    'INSERT INTO learn_events (id, class, unlearn, digest, size, source, actor, origin_node, origin_message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const bySeq = db.prepare<[number], EventDbRow>(`SELECT ${EVENT_COLUMNS} FROM learn_events WHERE seq = ?`);
  const nextAfter = db.prepare<[number], EventDbRow & { data: string }>(
    `SELECT e.seq, e.id, e.class, e.unlearn, e.digest, e.size, e.source, e.actor, e.origin_node, e.origin_message, e.created_at, m.data
       FROM learn_events e JOIN learn_messages m ON m.digest = e.digest WHERE e.seq > ? ORDER BY e.seq LIMIT 1`,
  );
  const last = db.prepare<[], { seq: number | null }>('SELECT MAX(seq) AS seq FROM learn_events');
  const counts = db.prepare<[number], { class: LearnClass; n: number }>('SELECT class, COUNT(*) AS n FROM learn_events WHERE seq <= ? GROUP BY class');
  const nodeRow = db.prepare<[string], { node_id: string; seq: number; applied_at: number | null; error: string | null; error_at: number | null }>('SELECT node_id, seq, applied_at, error, error_at FROM learn_nodes WHERE node_id = ?');
  const allNodes = db.prepare<[], { node_id: string; seq: number; applied_at: number | null; error: string | null; error_at: number | null }>('SELECT node_id, seq, applied_at, error, error_at FROM learn_nodes');
  const upsertApplied = db.prepare<[string, number, number]>(
    'INSERT INTO learn_nodes (node_id, seq, applied_at) VALUES (?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET seq = excluded.seq, applied_at = excluded.applied_at, error = NULL, error_at = NULL',
  );
  const upsertError = db.prepare<[string, number, string, number]>(
    'INSERT INTO learn_nodes (node_id, seq, error, error_at) VALUES (?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET seq = excluded.seq, error = excluded.error, error_at = excluded.error_at',
  );

  const record = db.transaction((input: LearnInput, now: number): { event: LearnEventRow; created: boolean } => {
    const { digest, size, head } = input.message;
    const before = latest.get(digest);
    if (before && before.class === input.class) return { event: toEvent(before), created: false };
    insertMessage.run(digest, size, head.subarray(0, MAX_LEARN_BYTES).toString('base64'), now);
    const info = insertEvent.run(randomBytes(16).toString('hex'), input.class, before?.class ?? null, digest, size, input.source, input.actor.slice(0, 200), input.origin?.nodeId ?? null, input.origin?.messageId ?? null, now);
    return { event: toEvent(bySeq.get(Number(info.lastInsertRowid))!), created: true };
  });

  const toState = (r: { node_id: string; seq: number; applied_at: number | null; error: string | null; error_at: number | null }): NodeLearnState =>
    ({ nodeId: r.node_id, seq: r.seq, appliedAt: r.applied_at, error: r.error, errorAt: r.error_at });

  return {
    /** Add an event unless the message already is what it is taught to be; `created` says which. */
    record: (input: LearnInput, now: number) => record(input, now),
    /** The first event after `seq`, with its message (base64), or undefined when the node is current. */
    next(seq: number): (LearnEventRow & { readonly data: string }) | undefined {
      const r = nextAfter.get(seq);
      return r ? { ...toEvent(r), data: r.data } : undefined;
    },
    get(seq: number): LearnEventRow | undefined {
      const r = bySeq.get(seq);
      return r ? toEvent(r) : undefined;
    },
    lastSeq: (): number => last.get()?.seq ?? 0,
    /** Events of each class up to `seq`: what a node that applied `seq` has been taught. */
    counts(seq: number): { spam: number; ham: number } {
      const c = { spam: 0, ham: 0 };
      for (const r of counts.all(seq)) c[r.class] = r.n;
      return c;
    },
    node: (nodeId: string): NodeLearnState | undefined => {
      const r = nodeRow.get(nodeId);
      return r ? toState(r) : undefined;
    },
    nodes: (): NodeLearnState[] => allNodes.all().map(toState),
    /** A node applied everything up to `seq` (its error, if any, is over). */
    applied(nodeId: string, seq: number, now: number): void {
      upsertApplied.run(nodeId, seq, now);
    },
    /** The event after `seq` failed on a node (it stays pending there and is retried). */
    failed(nodeId: string, seq: number, error: string, now: number): void {
      upsertError.run(nodeId, seq, error.slice(0, 1000), now);
    },
  };
}

export type LearnStore = ReturnType<typeof createLearnStore>;
