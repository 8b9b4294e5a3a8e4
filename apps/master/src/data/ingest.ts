import { createHash } from 'node:crypto';
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
  /**
   * New events under an (epoch, seq) already stored with other content: the node's sequence
   * went backwards within one run (its disk rewound under a live process, e.g. a VM snapshot
   * with memory). Stored like any new event; for the caller to log.
   */
  readonly rewound: { epoch: string; seq: number }[];
}

/** A node's sequence warnings, for the node list. */
export interface EventWarnings {
  readonly rewound: number;
  readonly lastAt: number;
  readonly lastEpoch: string;
  readonly lastSeq: number;
}

export interface Ingest {
  ingestBatch(nodeId: string, events: readonly OutboxEvent[]): IngestResult;
  /** Every node that ever sent a rewound sequence, by node id. */
  warnings(): Map<string, EventWarnings>;
}

/** What tells a re-sent event from another one under the same (epoch, seq): its type, time and payload. */
export function eventDigest(type: string, createdAt: number, payload: unknown): string {
  return createHash('sha256').update(`${type}\n${createdAt}\n${JSON.stringify(payload) ?? ''}`).digest('hex').slice(0, 32);
}

const CHECKS = new Map<string, (v: unknown) => boolean>(Object.entries(EVENT_SCHEMAS).map(([type, schema]) => [type, validator(schema)]));

/**
 * Stores a node's events exactly once. One transaction per batch: the idempotency record
 * (node, epoch, seq, digest) and every effect of the event commit together, so a crash between
 * them cannot apply an event twice or record one that was never applied. A record with the
 * same key (or one stored before records had digests) means a re-send: skipped. The epoch is
 * the scanner run that wrote the event, so a restored scanner reusing old seqs is not taken
 * for a re-send (migration 012). Events are applied in seq order whatever order they came in.
 */
export function createIngest(db: Db, options: { now?: () => number } = {}): Ingest {
  const now = options.now ?? Date.now;
  const pending = createPendingChanges(db);
  const rollups = createRollups(db);
  const messages = createMessageWriter(db, rollups, pending);
  const quarantine = createQuarantineWriter(db, pending);
  const retained = createRetainedWriter(db, pending);
  const stored = db.prepare<[string, string, number], { digest: string }>('SELECT digest FROM events WHERE node_id = ? AND epoch = ? AND seq = ?');
  const record = db.prepare('INSERT INTO events (node_id, epoch, seq, digest, type, created_at, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const markRejected = db.prepare('UPDATE events SET rejected = ? WHERE ord = ?');
  const warn = db.prepare(`INSERT INTO node_event_warnings (node_id, rewound, last_at, last_epoch, last_seq) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (node_id) DO UPDATE SET rewound = rewound + excluded.rewound, last_at = excluded.last_at, last_epoch = excluded.last_epoch, last_seq = excluded.last_seq`);
  const allWarnings = db.prepare<[], { node_id: string; rewound: number; last_at: number; last_epoch: string; last_seq: number }>('SELECT * FROM node_event_warnings');
  const ackNode = db.prepare('UPDATE nodes SET last_acked_seq = max(last_acked_seq, ?) WHERE id = ?');

  // `ord`: the order the master stored the event in (held changes are replayed in it).
  function apply(nodeId: string, ord: number, type: EventType, payload: unknown): void {
    switch (type) {
      case 'message.logged': {
        messages.logged(nodeId, payload as MessageLogged);
        return retained.logged(nodeId, (payload as MessageLogged).id);
      }
      case 'delivery.status': return messages.delivery(nodeId, ord, payload as DeliveryStatus);
      case 'quarantine.added': return quarantine.added(nodeId, payload as QuarantineAdded);
      case 'quarantine.changed': return quarantine.changed(nodeId, ord, payload as QuarantineChanged);
      case 'retained.expired': return retained.expired(nodeId, ord, payload as RetainedExpired);
      default: throw new Error(`no writer for event type ${String(type satisfies never)}`);
    }
  }

  const batch = db.transaction((nodeId: string, events: readonly OutboxEvent[]): IngestResult => {
    let upToSeq = 0;
    let storedCount = 0;
    let duplicates = 0;
    const rejected: { seq: number; reason: string }[] = [];
    const rewound: { epoch: string; seq: number }[] = [];
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
      const epoch = typeof ev.epoch === 'string' ? ev.epoch.slice(0, 64) : '';
      const digest = eventDigest(type, createdAt, ev.payload);
      const before = stored.all(nodeId, epoch, ev.seq);
      if (before.some((r) => r.digest === digest || r.digest === '')) {
        duplicates++;
        continue;
      }
      if (before.length > 0) rewound.push({ epoch, seq: ev.seq });
      const ord = Number(record.run(nodeId, epoch, ev.seq, digest, type, createdAt, storedAt).lastInsertRowid);
      const reason = invalidReason(type, ev.payload);
      if (reason) {
        markRejected.run(reason, ord);
        rejected.push({ seq: ev.seq, reason });
        continue;
      }
      apply(nodeId, ord, type as EventType, ev.payload);
      storedCount++;
    }
    rollups.flush();
    if (upToSeq > 0) ackNode.run(upToSeq, nodeId);
    const last = rewound.at(-1);
    if (last) warn.run(nodeId, rewound.length, storedAt, last.epoch, last.seq);
    return { upToSeq, stored: storedCount, duplicates, rejected, rewound };
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
    warnings: () => new Map(allWarnings.all().map((r) => [r.node_id, { rewound: r.rewound, lastAt: r.last_at, lastEpoch: r.last_epoch, lastSeq: r.last_seq }])),
  };
}

function invalidReason(type: string, payload: unknown): string | undefined {
  const check = CHECKS.get(type);
  if (!check) return `unknown event type ${JSON.stringify(type)}`;
  if (check(payload)) return undefined;
  const errors = collectErrors(EVENT_SCHEMAS[type as EventType], payload).slice(0, 3).map((e) => `${e.key}: ${e.message}`);
  return `payload of ${type} does not fit its schema: ${errors.join('; ')}`.slice(0, 500);
}
