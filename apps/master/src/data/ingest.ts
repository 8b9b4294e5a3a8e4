import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { EVENT_SCHEMAS, validator, type DeliveryStatus, type EventType, type MessageLogged, type OutboxEvent, type QuarantineAdded, type QuarantineChanged, type RetainedExpired } from '@moat/protocol';
import { collectErrors } from '@moat/config';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import type { NodesSeenByData } from '../db/tables/data.ts';
import { inChunks } from './in-chunks.ts';
import type { Ordered } from './message-writer.ts';
import { createLogPartitions } from './log-partitions.ts';
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
  ingestBatch(nodeId: string, events: readonly OutboxEvent[]): Promise<IngestResult>;
  /** Every node that ever sent a rewound sequence, by node id. */
  warnings(): Promise<Map<string, EventWarnings>>;
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
 * for a re-send (migration 012).
 *
 * The records are inserted `ON CONFLICT DO NOTHING RETURNING`: an event is new only if its
 * record was inserted now, so two masters ingesting the same re-sent batch at once on
 * PostgreSQL (the second waits on the first's key, then sees it) apply it once. Then the
 * batch's effects, one event type at a time, many rows per statement; within a type, events
 * are applied in seq order whatever order they came in. Types touch different rows or
 * columns, and every change is order-independent (README: "Exactly once"), so this ends in the
 * same state as applying them one by one.
 */
export function createIngest(db: Kysely<MasterSchema>, engine: Engine, options: { now?: () => number } = {}): Ingest {
  const now = options.now ?? Date.now;
  // Per ingest (so per master process): remembers the day partitions known to exist.
  const partitions = createLogPartitions(engine, now);

  async function batch(trx: Kysely<MasterSchema>, nodeId: string, events: readonly OutboxEvent[]): Promise<IngestResult> {
    let upToSeq = 0;
    let duplicates = 0;
    const rejected: { seq: number; reason: string }[] = [];
    const rewound: { epoch: string; seq: number }[] = [];
    const storedAt = now();
    const candidates: Candidate[] = [];
    for (const ev of [...events].sort((a, b) => a.seq - b.seq)) {
      if (!Number.isSafeInteger(ev.seq) || ev.seq < 1) {
        rejected.push({ seq: Number(ev.seq) || 0, reason: 'seq is not a positive integer; not recorded' });
        continue;
      }
      const type = String(ev.type).slice(0, 64);
      const createdAt = Number.isSafeInteger(ev.createdAt) ? ev.createdAt : 0;
      upToSeq = Math.max(upToSeq, ev.seq);
      const epoch = typeof ev.epoch === 'string' ? ev.epoch.slice(0, 64) : '';
      candidates.push({ seq: ev.seq, epoch, type, createdAt, payload: ev.payload, digest: eventDigest(type, createdAt, ev.payload) });
    }

    // What is stored already under the batch's (epoch, seq)s, and what this batch adds to it.
    const known = new Map<string, string[]>();
    const keyOf = (epoch: string, seq: number) => `${epoch}\0${seq}`;
    if (candidates.length > 0) {
      const rows = await trx.selectFrom('events').select(['epoch', 'seq', 'digest']).where('node_id', '=', nodeId)
        .where('epoch', 'in', [...new Set(candidates.map((c) => c.epoch))])
        .where('seq', '>=', candidates[0]!.seq).where('seq', '<=', candidates.at(-1)!.seq).execute();
      for (const r of rows) known.set(keyOf(r.epoch, r.seq), [...(known.get(keyOf(r.epoch, r.seq)) ?? []), r.digest]);
    }
    const fresh: (Candidate & { reason: string | undefined; rewound: boolean })[] = [];
    for (const c of candidates) {
      const before = known.get(keyOf(c.epoch, c.seq)) ?? [];
      if (before.some((d) => d === c.digest || d === '')) {
        duplicates++;
        continue;
      }
      known.set(keyOf(c.epoch, c.seq), [...before, c.digest]);
      fresh.push({ ...c, reason: invalidReason(c.type, c.payload), rewound: before.length > 0 });
    }

    // New only if recorded now: another master may have stored the same event meanwhile.
    const ords = new Map<string, number>();
    await inChunks(fresh, async (chunk) => {
      const rows = await trx.insertInto('events').values(chunk.map((c) => ({
        node_id: nodeId, epoch: c.epoch, seq: c.seq, digest: c.digest, type: c.type, created_at: c.createdAt, stored_at: storedAt, rejected: c.reason ?? null,
      }))).onConflict((oc) => oc.columns(['node_id', 'epoch', 'seq', 'digest']).doNothing()).returning(['ord', 'epoch', 'seq', 'digest']).execute();
      for (const r of rows) ords.set(`${keyOf(r.epoch, r.seq)}\0${r.digest}`, r.ord);
    });

    const pending = createPendingChanges(trx);
    const rollups = createRollups(trx);
    const messages = createMessageWriter(trx, engine, rollups, pending, partitions);
    const quarantine = createQuarantineWriter(trx, engine, pending);
    const retained = createRetainedWriter(trx, pending);
    const apply: { [T in EventType]: Ordered<EventPayload<T>>[] } = { 'message.logged': [], 'delivery.status': [], 'quarantine.added': [], 'quarantine.changed': [], 'retained.expired': [] };
    let storedCount = 0;
    for (const c of fresh) {
      const ord = ords.get(`${keyOf(c.epoch, c.seq)}\0${c.digest}`);
      if (ord === undefined) {
        duplicates++;
        continue;
      }
      if (c.rewound) rewound.push({ epoch: c.epoch, seq: c.seq });
      if (c.reason) {
        rejected.push({ seq: c.seq, reason: c.reason });
        continue;
      }
      (apply[c.type as EventType] as Ordered<unknown>[]).push({ ord, ev: c.payload });
      storedCount++;
    }

    if (storedCount > 0) {
      await pending.refresh();
      const logged = await messages.logged(nodeId, apply['message.logged'].map((o) => o.ev));
      await retained.logged(nodeId, logged);
      await quarantine.added(nodeId, apply['quarantine.added'].map((o) => o.ev));
      await messages.delivery(nodeId, apply['delivery.status']);
      await quarantine.changed(nodeId, apply['quarantine.changed']);
      await retained.expired(nodeId, apply['retained.expired']);
      await rollups.flush();
    }
    if (upToSeq > 0) await trx.withTables<NodesSeenByData>().updateTable('nodes').set({ last_acked_seq: upToSeq }).where('id', '=', nodeId).where('last_acked_seq', '<', upToSeq).execute();
    const last = rewound.at(-1);
    if (last) {
      await trx.insertInto('node_event_warnings').values({ node_id: nodeId, rewound: rewound.length, last_at: storedAt, last_epoch: last.epoch, last_seq: last.seq })
        .onConflict((oc) => oc.column('node_id').doUpdateSet((eb) => ({
          rewound: eb('node_event_warnings.rewound', '+', eb.ref('excluded.rewound')), last_at: eb.ref('excluded.last_at'), last_epoch: eb.ref('excluded.last_epoch'), last_seq: eb.ref('excluded.last_seq'),
        }))).execute();
    }
    return { upToSeq, stored: storedCount, duplicates, rejected: rejected.sort((a, b) => a.seq - b.seq), rewound };
  }

  return {
    ingestBatch: (nodeId, events) => db.transaction().execute((trx) => batch(trx, nodeId, events)),
    warnings: async () => new Map((await db.selectFrom('node_event_warnings').selectAll().execute())
      .map((r) => [r.node_id, { rewound: r.rewound, lastAt: r.last_at, lastEpoch: r.last_epoch, lastSeq: r.last_seq }])),
  };
}

interface Candidate {
  readonly seq: number;
  readonly epoch: string;
  readonly type: string;
  readonly createdAt: number;
  readonly payload: unknown;
  readonly digest: string;
}

type EventPayload<T extends EventType> = { 'message.logged': MessageLogged; 'delivery.status': DeliveryStatus; 'quarantine.added': QuarantineAdded; 'quarantine.changed': QuarantineChanged; 'retained.expired': RetainedExpired }[T];

function invalidReason(type: string, payload: unknown): string | undefined {
  const check = CHECKS.get(type);
  if (!check) return `unknown event type ${JSON.stringify(type)}`;
  if (check(payload)) return undefined;
  const errors = collectErrors(EVENT_SCHEMAS[type as EventType], payload).slice(0, 3).map((e) => `${e.key}: ${e.message}`);
  return `payload of ${type} does not fit its schema: ${errors.join('; ')}`.slice(0, 500);
}
