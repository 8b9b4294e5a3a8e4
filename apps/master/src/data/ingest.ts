import type { Db } from '@moat/storage';
import { EVENT_SCHEMAS, validator, type DeliveryStatus, type EventType, type MessageLogged, type OutboxEvent, type QuarantineAdded, type QuarantineChanged, type RetainedExpired } from '@moat/protocol';
import { collectErrors } from '@moat/config';
import { createPendingChanges } from './pending-changes.ts';
import { createRollups } from './rollups.ts';
import { createMessageWriter } from './message-writer.ts';
import { createQuarantineWriter } from './quarantine-writer.ts';
import { createRetainedWriter } from './retained-writer.ts';

export interface IngestResult {
  /** Highest seq of the batch that is now stored (applied, duplicate or rejected): the scanner may drop its outbox up to it. */
  readonly upToSeq: number;
  /** Events applied for the first time. */
  readonly stored: number;
  /** Events already stored by an earlier batch (a re-send after a lost ack): skipped. */
  readonly duplicates: number;
  /** Events whose payload did not fit its schema: recorded so they are not re-sent forever, not applied. For the caller to log. */
  readonly rejected: { seq: number; reason: string }[];
}

export interface Ingest {
  ingestBatch(nodeId: string, events: readonly OutboxEvent[]): IngestResult;
}

const CHECKS = new Map<string, (v: unknown) => boolean>(Object.entries(EVENT_SCHEMAS).map(([type, schema]) => [type, validator(schema)]));

/**
 * Stores a node's events exactly once. One transaction per batch: the idempotency record
 * (node, seq) and every effect of the event commit together, so a crash between them cannot
 * apply an event twice or record one that was never applied. `INSERT OR IGNORE` on the record
 * decides: a row inserted now means the event is new and is applied; no row means it is a
 * duplicate and is skipped. Events are applied in seq order whatever order they came in.
 */
export function createIngest(db: Db, options: { now?: () => number } = {}): Ingest {
  const now = options.now ?? Date.now;
  const pending = createPendingChanges(db);
  const rollups = createRollups(db);
  const messages = createMessageWriter(db, rollups, pending);
  const quarantine = createQuarantineWriter(db, pending);
  const retained = createRetainedWriter(db, pending);
  const record = db.prepare('INSERT OR IGNORE INTO events (node_id, seq, type, created_at, stored_at) VALUES (?, ?, ?, ?, ?)');
  const markRejected = db.prepare('UPDATE events SET rejected = ? WHERE node_id = ? AND seq = ?');
  const ackNode = db.prepare('UPDATE nodes SET last_acked_seq = max(last_acked_seq, ?) WHERE id = ?');

  function apply(nodeId: string, seq: number, type: EventType, payload: unknown): void {
    switch (type) {
      case 'message.logged': {
        messages.logged(nodeId, payload as MessageLogged);
        return retained.logged(nodeId, (payload as MessageLogged).id);
      }
      case 'delivery.status': return messages.delivery(nodeId, seq, payload as DeliveryStatus);
      case 'quarantine.added': return quarantine.added(nodeId, payload as QuarantineAdded);
      case 'quarantine.changed': return quarantine.changed(nodeId, seq, payload as QuarantineChanged);
      case 'retained.expired': return retained.expired(nodeId, seq, payload as RetainedExpired);
      default: throw new Error(`no writer for event type ${String(type satisfies never)}`);
    }
  }

  const batch = db.transaction((nodeId: string, events: readonly OutboxEvent[]): IngestResult => {
    let upToSeq = 0;
    let stored = 0;
    let duplicates = 0;
    const rejected: { seq: number; reason: string }[] = [];
    const storedAt = now();
    pending.refresh();
    for (const ev of [...events].sort((a, b) => a.seq - b.seq)) {
      if (!Number.isSafeInteger(ev.seq) || ev.seq < 1) {
        rejected.push({ seq: Number(ev.seq) || 0, reason: 'seq is not a positive integer; not recorded' });
        continue;
      }
      const type = String(ev.type).slice(0, 64);
      const createdAt = Number.isSafeInteger(ev.createdAt) ? ev.createdAt : 0;
      upToSeq = Math.max(upToSeq, ev.seq);
      if (record.run(nodeId, ev.seq, type, createdAt, storedAt).changes === 0) {
        duplicates++;
        continue;
      }
      const reason = invalidReason(type, ev.payload);
      if (reason) {
        markRejected.run(reason, nodeId, ev.seq);
        rejected.push({ seq: ev.seq, reason });
        continue;
      }
      apply(nodeId, ev.seq, type as EventType, ev.payload);
      stored++;
    }
    rollups.flush();
    if (upToSeq > 0) ackNode.run(upToSeq, nodeId);
    return { upToSeq, stored, duplicates, rejected };
  });

  return {
    ingestBatch(nodeId, events) {
      try {
        return batch(nodeId, events);
      } catch (err) {
        rollups.discard();
        throw err;
      }
    },
  };
}

function invalidReason(type: string, payload: unknown): string | undefined {
  const check = CHECKS.get(type);
  if (!check) return `unknown event type ${JSON.stringify(type)}`;
  if (check(payload)) return undefined;
  const errors = collectErrors(EVENT_SCHEMAS[type as EventType], payload).slice(0, 3).map((e) => `${e.key}: ${e.message}`);
  return `payload of ${type} does not fit its schema: ${errors.join('; ')}`.slice(0, 500);
}
