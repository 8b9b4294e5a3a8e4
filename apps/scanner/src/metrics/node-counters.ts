import { MAX_REPORTED_REASON_KINDS, MAX_REPORTED_REFUSAL_CODES, type NodeMetrics } from '@moat/protocol';
import type { Action, Reason } from '@moat/rules';
import type { MessageStore } from '../store/message-store.ts';

type Stage = NodeMetrics['refusals'][number]['stage'];
/** The gauges of now that go beside the counters in a report (read on each heartbeat). */
export type NodeGauges = Pick<NodeMetrics, 'queueOldestSeconds' | 'disk'>;

/**
 * This run's counters for the heartbeat's `metrics` (protocol 6): messages by verdict and by
 * reason kind, SMTP sessions and refusals by code, relay outcomes per recipient. Memory only:
 * they start from zero at every start (`startedAt` tells the master), as a Prometheus target's do.
 */
export class NodeCounters {
  readonly startedAt: number;
  private readonly messages = new Map<Action, number>();
  private readonly reasons = new Map<string, { verdict: Action; kind: string; count: number }>();
  private readonly refusals = new Map<string, { stage: Stage; code: number; count: number }>();
  private readonly relay = { delivered: 0, deferred: 0, bounced: 0 };
  private sessions = 0;

  constructor(startedAt: number) {
    this.startedAt = startedAt;
  }

  /** A message received and decided (DATA), once its fate is committed. */
  message(verdict: Action, reasons: readonly Reason[]): void {
    this.messages.set(verdict, (this.messages.get(verdict) ?? 0) + 1);
    for (const kind of new Set(reasons.map((r) => r.kind))) {
      const key = `${verdict}\0${kind}`;
      const r = this.reasons.get(key);
      if (r) r.count++;
      // Kinds are a closed vocabulary (packages/rules facts.ts): the bound only guards the wire's.
      else if (this.reasons.size < MAX_REPORTED_REASON_KINDS) this.reasons.set(key, { verdict, kind, count: 1 });
    }
  }

  session(): void {
    this.sessions++;
  }

  /** A 4xx or 5xx reply Moat sent at this stage. */
  refusal(stage: Stage, code: number): void {
    if (code < 400 || code > 599) return;
    const key = `${stage}\0${code}`;
    const r = this.refusals.get(key);
    if (r) r.count++;
    else if (this.refusals.size < MAX_REPORTED_REFUSAL_CODES) this.refusals.set(key, { stage, code, count: 1 });
  }

  /** The recipients of one delivery attempt, by outcome. */
  attempt(delivered: number, deferred: number, bounced: number): void {
    this.relay.delivered += delivered;
    this.relay.deferred += deferred;
    this.relay.bounced += bounced;
  }

  report(gauges: NodeGauges): NodeMetrics {
    return {
      startedAt: this.startedAt,
      messages: [...this.messages].map(([verdict, count]) => ({ verdict, count })),
      reasons: [...this.reasons.values()].map((r) => ({ ...r })),
      sessions: this.sessions,
      refusals: [...this.refusals.values()].map((r) => ({ ...r })),
      relay: { ...this.relay },
      ...gauges,
    };
  }
}

/** The message store, counting each message's verdict and each attempt's outcome once committed. */
export function countingMessageStore(store: MessageStore, counters: NodeCounters): MessageStore {
  return {
    ...store,
    async recordRejected(m) {
      await store.recordRejected(m);
      counters.message(m.action, m.reasons);
    },
    async recordQueued(m, q, retained) {
      const removed = await store.recordQueued(m, q, retained);
      counters.message(m.action, m.reasons);
      return removed;
    },
    async recordQuarantined(m, file, retained) {
      const removed = await store.recordQuarantined(m, file, retained);
      counters.message(m.action, m.reasons);
      return removed;
    },
    async recordAttempt(entry, outcome, now, dsn) {
      await store.recordAttempt(entry, outcome, now, dsn);
      counters.attempt(outcome.delivered.length, outcome.deferred.length, outcome.bounced.length);
    },
  };
}

/** What the gauges are read from: the queue's oldest row, the quarantine's and retained copies' bytes, the budgets in the rules. */
export interface GaugeSources {
  readonly queueOldest: () => number | null;
  readonly quarantineBytes: () => number;
  readonly retainedBytes: () => number;
  /** The current rules' budgets; undefined before the first rules arrive. */
  readonly budgets: () => { readonly quarantineMaxBytes: number; readonly retainedMaxBytes?: number } | undefined;
  readonly now: () => number;
}

export function readGauges(s: GaugeSources): NodeGauges {
  const oldest = s.queueOldest();
  const budgets = s.budgets();
  return {
    queueOldestSeconds: oldest === null ? 0 : Math.max(0, (s.now() - oldest) / 1000),
    disk: {
      quarantineBytes: s.quarantineBytes(),
      quarantineMaxBytes: budgets?.quarantineMaxBytes ?? 0,
      retainedBytes: s.retainedBytes(),
      ...(budgets?.retainedMaxBytes !== undefined ? { retainedMaxBytes: budgets.retainedMaxBytes } : {}),
    },
  };
}
