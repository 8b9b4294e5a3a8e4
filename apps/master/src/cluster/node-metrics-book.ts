import type { NodeMetrics } from '@moat/protocol';

type Verdict = NodeMetrics['messages'][number]['verdict'];

/**
 * Each scanner's last `metrics` (heartbeat, protocol 6) and the cluster's verdict counts.
 *
 * A scanner's counters start from zero when it restarts, so a sum of them would go backwards;
 * the cluster's counts are kept here instead, from each report's increase over the node's last
 * one (all of it after a restart: a new `startedAt`). They only grow while this master runs.
 * A node seen for the first time adds what it counted only if its run began after this master's
 * (what it counted before was counted by the master that ran then, or by nobody).
 */
export class NodeMetricsBook {
  private readonly latest = new Map<string, { readonly metrics: NodeMetrics; readonly at: number }>();
  private readonly cluster = new Map<Verdict, number>();
  private readonly since: number;

  constructor(since: number) {
    this.since = since;
  }

  record(nodeId: string, metrics: NodeMetrics, at: number): void {
    const prev = this.latest.get(nodeId)?.metrics;
    const base = prev === undefined ? (metrics.startedAt >= this.since ? undefined : metrics) : prev.startedAt === metrics.startedAt ? prev : undefined;
    for (const m of metrics.messages) {
      const before = base?.messages.find((b) => b.verdict === m.verdict)?.count ?? 0;
      if (m.count > before) this.cluster.set(m.verdict, (this.cluster.get(m.verdict) ?? 0) + m.count - before);
    }
    this.latest.set(nodeId, { metrics, at });
  }

  forget(nodeId: string): void {
    this.latest.delete(nodeId);
  }

  get(nodeId: string): { readonly metrics: NodeMetrics; readonly at: number } | undefined {
    return this.latest.get(nodeId);
  }

  /** Messages by verdict over every node since this master started. */
  clusterMessages(): ReadonlyArray<readonly [Verdict, number]> {
    return [...this.cluster];
  }
}
