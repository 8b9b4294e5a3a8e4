import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { MAX_LEARN_BYTES, type LearnClass } from '@moat/protocol';
import type { MasterSchema } from '../db/schema.ts';

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

const EVENT_COLUMNS = ['seq', 'id', 'class', 'unlearn', 'digest', 'size', 'source', 'actor', 'origin_node', 'origin_message', 'created_at'] as const;
const toEvent = (r: EventDbRow): LearnEventRow => ({
  seq: r.seq, id: r.id, class: r.class, unlearn: r.unlearn, digest: r.digest, size: r.size, source: r.source, actor: r.actor,
  originNode: r.origin_node, originMessage: r.origin_message, createdAt: r.created_at,
});

type NodeDbRow = { node_id: string; seq: number; applied_at: number | null; error: string | null; error_at: number | null };
const NODE_COLUMNS = ['node_id', 'seq', 'applied_at', 'error', 'error_at'] as const;
const toState = (r: NodeDbRow): NodeLearnState => ({ nodeId: r.node_id, seq: r.seq, appliedAt: r.applied_at, error: r.error, errorAt: r.error_at });

/** A whole message in memory as a LearnMessage. */
export const learnMessageOf = (raw: Buffer): LearnMessage => ({ head: raw.subarray(0, MAX_LEARN_BYTES), size: raw.length, digest: createHash('sha256').update(raw).digest('hex') });

export interface LearnStore {
  /** Add an event unless the message already is what it is taught to be; `created` says which. */
  record(input: LearnInput, now: number): Promise<{ event: LearnEventRow; created: boolean }>;
  /** The first event after `seq`, with its message (base64), or undefined when the node is current. */
  next(seq: number): Promise<(LearnEventRow & { readonly data: string }) | undefined>;
  get(seq: number): Promise<LearnEventRow | undefined>;
  lastSeq(): Promise<number>;
  /** Events of each class up to `seq`: what a node that applied `seq` has been taught. */
  counts(seq: number): Promise<{ spam: number; ham: number }>;
  node(nodeId: string): Promise<NodeLearnState | undefined>;
  nodes(): Promise<NodeLearnState[]>;
  /** A node applied everything up to `seq` (its error, if any, is over). */
  applied(nodeId: string, seq: number, now: number): Promise<void>;
  /** The event after `seq` failed on a node (it stays pending there and is retried). */
  failed(nodeId: string, seq: number, error: string, now: number): Promise<void>;
}

/**
 * The master's learn log. One event per change of what a message is: teaching the same message
 * the same class again is no new event (idempotent), teaching it the other class is a new event
 * that names the class to forget first (a reversal). Sequence numbers order the log; every
 * scanner applies it in that order.
 */
export function createLearnStore(db: Kysely<MasterSchema>): LearnStore {
  return {
    record: (input, now) =>
      // One transaction: the message and its event are stored together, and on SQLite nothing
      // runs between the read of the latest class and the insert. (Two masters on PostgreSQL
      // teaching one message the same class at the same moment may both add an event: every
      // node applies both, which teaches it that class, as one would.)
      db.transaction().execute(async (trx) => {
        const { digest, size, head } = input.message;
        const before = await trx.selectFrom('learn_events').select(EVENT_COLUMNS).where('digest', '=', digest).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        if (before && before.class === input.class) return { event: toEvent(before), created: false };
        await trx
          .insertInto('learn_messages')
          .values({ digest, size, data: head.subarray(0, MAX_LEARN_BYTES).toString('base64'), created_at: now })
          .onConflict((oc) => oc.column('digest').doNothing())
          .execute();
        const event = await trx
          .insertInto('learn_events')
          .values({
            id: randomBytes(16).toString('hex'), class: input.class, unlearn: before?.class ?? null, digest, size, source: input.source, actor: input.actor.slice(0, 200),
            origin_node: input.origin?.nodeId ?? null, origin_message: input.origin?.messageId ?? null, created_at: now,
          })
          .returning(EVENT_COLUMNS)
          .executeTakeFirstOrThrow();
        return { event: toEvent(event), created: true };
      }),
    async next(seq) {
      const r = await db
        .selectFrom('learn_events as e')
        .innerJoin('learn_messages as m', 'm.digest', 'e.digest')
        .select(['e.seq', 'e.id', 'e.class', 'e.unlearn', 'e.digest', 'e.size', 'e.source', 'e.actor', 'e.origin_node', 'e.origin_message', 'e.created_at', 'm.data'])
        .where('e.seq', '>', seq)
        .orderBy('e.seq')
        .limit(1)
        .executeTakeFirst();
      return r ? { ...toEvent(r), data: r.data } : undefined;
    },
    async get(seq) {
      const r = await db.selectFrom('learn_events').select(EVENT_COLUMNS).where('seq', '=', seq).executeTakeFirst();
      return r ? toEvent(r) : undefined;
    },
    async lastSeq() {
      const r = await db.selectFrom('learn_events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
      return Number(r?.seq ?? 0);
    },
    async counts(seq) {
      const c = { spam: 0, ham: 0 };
      const rows = await db.selectFrom('learn_events').select(['class', (eb) => eb.fn.countAll<number>().as('n')]).where('seq', '<=', seq).groupBy('class').execute();
      for (const r of rows) c[r.class] = Number(r.n);
      return c;
    },
    async node(nodeId) {
      const r = await db.selectFrom('learn_nodes').select(NODE_COLUMNS).where('node_id', '=', nodeId).executeTakeFirst();
      return r ? toState(r) : undefined;
    },
    nodes: async () => (await db.selectFrom('learn_nodes').select(NODE_COLUMNS).execute()).map(toState),
    async applied(nodeId, seq, now) {
      await db
        .insertInto('learn_nodes')
        .values({ node_id: nodeId, seq, applied_at: now, error: null, error_at: null })
        .onConflict((oc) => oc.column('node_id').doUpdateSet((eb) => ({ seq: eb.ref('excluded.seq'), applied_at: eb.ref('excluded.applied_at'), error: null, error_at: null })))
        .execute();
    },
    async failed(nodeId, seq, error, now) {
      await db
        .insertInto('learn_nodes')
        .values({ node_id: nodeId, seq, applied_at: null, error: error.slice(0, 1000), error_at: now })
        .onConflict((oc) => oc.column('node_id').doUpdateSet((eb) => ({ seq: eb.ref('excluded.seq'), error: eb.ref('excluded.error'), error_at: eb.ref('excluded.error_at') })))
        .execute();
    },
  };
}
