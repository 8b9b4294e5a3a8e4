import type { NodeMetrics } from '@moat/protocol';

export const VERDICTS = ['deliver', 'tag', 'quarantine', 'reject'] as const;
export type Verdict = (typeof VERDICTS)[number];
export type PerVerdict = Readonly<Record<Verdict, number>>;

/** One heartbeat of a node as the trends keep it (master's clock). */
export interface TrendSample {
  readonly at: number;
  readonly queueDepth: number;
  readonly outboxBacklog: number;
  /** The scanner's message counters since its start (protocol 6); absent from older scanners. */
  readonly counters?: { readonly startedAt: number; readonly messages: PerVerdict };
  /** Its budgeted stores' disk use (protocol 6). */
  readonly disk?: NodeMetrics['disk'];
}

/** A heartbeat's fields; queue and outbox are optional on the wire. */
export interface HeartbeatFacts {
  readonly queueDepth?: number | undefined;
  readonly outboxBacklog?: number | undefined;
  readonly metrics?: NodeMetrics | undefined;
}

export interface TrendSettings {
  /** Kept samples are at least this far apart; the newest heartbeat is always the last sample. */
  readonly stepMs: number;
  /** How far back samples are kept (so at most historyMs / stepMs + 1 a node). */
  readonly historyMs: number;
}

/** The history the master keeps: an hour. */
export const TREND_HISTORY_MS = 3_600_000;

/** Messages a second by verdict over a window, and the seconds it really spans. */
export interface Throughput {
  readonly perSecond: PerVerdict & { readonly total: number };
  readonly seconds: number;
}

/**
 * A short history of each node's heartbeats, in memory: relay queue and outbox depth, disk use,
 * and the message counters the throughput is computed from. A bounded ring per node: samples at
 * least `stepMs` apart (the newest heartbeat replaces the last sample until that one is a step
 * past the one before), `historyMs` of them. Lost at a master restart, like the rest of the
 * heartbeat's live state; the hourly roll-ups keep the long view.
 */
export class NodeTrends {
  private readonly rings = new Map<string, TrendSample[]>();
  private readonly settings: TrendSettings;

  constructor(settings: TrendSettings) {
    this.settings = settings;
  }

  /** Kept samples are at least this far apart. */
  get stepMs(): number {
    return this.settings.stepMs;
  }

  record(nodeId: string, at: number, facts: HeartbeatFacts): void {
    let ring = this.rings.get(nodeId);
    if (!ring) this.rings.set(nodeId, (ring = []));
    const last = ring.at(-1);
    const m = facts.metrics;
    const sample: TrendSample = {
      at,
      queueDepth: facts.queueDepth ?? last?.queueDepth ?? 0,
      outboxBacklog: facts.outboxBacklog ?? last?.outboxBacklog ?? 0,
      ...(m ? { counters: { startedAt: m.startedAt, messages: perVerdict(m) }, disk: m.disk } : {}),
    };
    const before = ring.at(-2);
    if (last && before && last.at - before.at < this.settings.stepMs) ring[ring.length - 1] = sample;
    else ring.push(sample);
    if (ring.length > Math.ceil(this.settings.historyMs / this.settings.stepMs) + 1) ring.shift();
  }

  forget(nodeId: string): void {
    this.rings.delete(nodeId);
  }

  /** The node's samples from `since` on, oldest first. */
  samples(nodeId: string, since: number): readonly TrendSample[] {
    return (this.rings.get(nodeId) ?? []).filter((s) => s.at >= since);
  }

  /** The node's newest sample. */
  latest(nodeId: string): TrendSample | undefined {
    return this.rings.get(nodeId)?.at(-1);
  }

  throughput(nodeId: string, windowMs: number, now: number): Throughput | null {
    return throughput(this.rings.get(nodeId) ?? [], windowMs, now);
  }
}

function perVerdict(m: NodeMetrics): PerVerdict {
  const out = { deliver: 0, tag: 0, quarantine: 0, reject: 0 };
  for (const x of m.messages) out[x.verdict] = x.count;
  return out;
}

/**
 * Messages a second by verdict from a node's samples: the counters' increase from the newest
 * sample at least `windowMs` before the last one (or the oldest there is) to the last one, over
 * the time between them. A counter reset (a new `startedAt`: the scanner restarted) counts the new
 * run's counts from zero. Null when there is nothing to measure: no counters, fewer than two
 * samples, or a last sample older than the window (the node stopped reporting).
 */
export function throughput(ring: readonly TrendSample[], windowMs: number, now: number): Throughput | null {
  const head = ring.at(-1);
  if (!head?.counters || ring.length < 2 || now - head.at > windowMs) return null;
  let i = ring.length - 2;
  while (i > 0 && ring[i]!.at > head.at - windowMs) i--;
  const seconds = (head.at - ring[i]!.at) / 1000;
  if (seconds <= 0) return null;
  const sum = { deliver: 0, tag: 0, quarantine: 0, reject: 0 };
  for (let j = i + 1; j < ring.length; j++) {
    const prev = ring[j - 1]!.counters;
    const cur = ring[j]!.counters;
    if (!cur || !prev) continue;
    for (const v of VERDICTS) sum[v] += prev.startedAt === cur.startedAt ? Math.max(0, cur.messages[v] - prev.messages[v]) : cur.messages[v];
  }
  const rate = (n: number) => n / seconds;
  const perSecond = { deliver: rate(sum.deliver), tag: rate(sum.tag), quarantine: rate(sum.quarantine), reject: rate(sum.reject) };
  return { perSecond: { ...perSecond, total: VERDICTS.reduce((a, v) => a + perSecond[v], 0) }, seconds };
}

/** The cluster's throughput: the nodes' rates added (null when no node has one). */
export function sumThroughput(list: ReadonlyArray<Throughput | null>): Throughput | null {
  const have = list.filter((t): t is Throughput => t !== null);
  if (have.length === 0) return null;
  const add = (k: Verdict | 'total') => have.reduce((a, t) => a + t.perSecond[k], 0);
  return {
    perSecond: { deliver: add('deliver'), tag: add('tag'), quarantine: add('quarantine'), reject: add('reject'), total: add('total') },
    seconds: Math.max(...have.map((t) => t.seconds)),
  };
}
