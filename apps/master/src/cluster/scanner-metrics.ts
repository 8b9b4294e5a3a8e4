import { Counter, Gauge, type Registry } from 'prom-client';
import type { NodeMetrics } from '@moat/protocol';

/** Each node's name and its last `metrics` (heartbeat, protocol 6), and the cluster's verdict counts. */
export interface ScannerMetricsSource {
  readonly nodes: () => ReadonlyArray<readonly [string, NodeMetrics]>;
  readonly clusterMessages: () => ReadonlyArray<readonly [string, number]>;
}

/**
 * Every scanner's counters and gauges on the master's /metrics, with a `node` label (scanners
 * dial out and may sit behind NAT: nothing scrapes them). The counters are the scanner's own
 * since its start: they reset when it restarts, which rate() and increase() take as a reset,
 * as for any restarted target. `moat_messages_total` is the cluster's, kept by the master.
 */
export function registerScannerMetrics(registry: Registry, source: ScannerMetricsSource): void {
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter<string>, node: string, m: NodeMetrics) => void) =>
    new Counter({
      name, help, labelNames: ['node', ...labelNames], registers: [registry],
      collect() {
        this.reset();
        for (const [node, m] of source.nodes()) fill(this, node, m);
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, node: string, m: NodeMetrics) => void) =>
    new Gauge({
      name, help, labelNames: ['node', ...labelNames], registers: [registry],
      collect() {
        this.reset();
        for (const [node, m] of source.nodes()) fill(this, node, m);
      },
    });
  counter('moat_scanner_messages_total', 'Messages the node received and decided, by verdict (deliver, tag, quarantine, reject), since it started.', ['verdict'], (c, node, m) => {
    for (const x of m.messages) c.inc({ node, verdict: x.verdict }, x.count);
  });
  counter('moat_scanner_message_reasons_total', 'Messages by verdict that carried at least one reason of the kind (ip-list, content, virus, analyzer…), since the node started.', ['verdict', 'kind'], (c, node, m) => {
    for (const x of m.reasons) c.inc({ node, verdict: x.verdict, kind: x.kind }, x.count);
  });
  counter('moat_scanner_smtp_sessions_total', 'SMTP connections the node opened a session for, since it started.', [], (c, node, m) => c.inc({ node }, m.sessions));
  counter('moat_scanner_smtp_refusals_total', 'SMTP 4xx/5xx replies the node sent, by stage (connect, mail, rcpt, data) and code, since it started.', ['stage', 'code'], (c, node, m) => {
    for (const x of m.refusals) c.inc({ node, stage: x.stage, code: String(x.code) }, x.count);
  });
  counter('moat_scanner_relay_recipients_total', 'Recipients by the outcome of each delivery attempt (delivered, deferred, bounced), since the node started.', ['outcome'], (c, node, m) => {
    for (const outcome of ['delivered', 'deferred', 'bounced'] as const) c.inc({ node, outcome }, m.relay[outcome]);
  });
  gauge('moat_scanner_start_time_seconds', 'Unix time the node\'s counters started (its process start): a change is a reset.', [], (g, node, m) => g.set({ node }, m.startedAt / 1000));
  gauge('moat_node_queue_oldest_seconds', 'Age of the oldest message in the node\'s relay queue (0 when empty).', [], (g, node, m) => g.set({ node }, m.queueOldestSeconds));
  gauge('moat_node_disk_used_bytes', 'Bytes the node keeps in a store bounded by a budget: quarantine (held messages) or retention (retained copies).', ['store'], (g, node, m) => {
    g.set({ node, store: 'quarantine' }, m.disk.quarantineBytes);
    g.set({ node, store: 'retention' }, m.disk.retainedBytes);
  });
  gauge('moat_node_disk_budget_bytes', 'The store\'s disk budget on the node (quarantine.maxBytes, retention.maxBytes; retention absent while it is off).', ['store'], (g, node, m) => {
    if (m.disk.quarantineMaxBytes > 0) g.set({ node, store: 'quarantine' }, m.disk.quarantineMaxBytes);
    if (m.disk.retainedMaxBytes !== undefined) g.set({ node, store: 'retention' }, m.disk.retainedMaxBytes);
  });
  new Counter({
    name: 'moat_messages_total',
    help: 'Messages decided across the cluster, by verdict, since this master started (kept across scanner restarts).',
    labelNames: ['verdict'],
    registers: [registry],
    collect() {
      this.reset();
      for (const verdict of ['deliver', 'tag', 'quarantine', 'reject']) this.inc({ verdict }, 0);
      for (const [verdict, n] of source.clusterMessages()) this.inc({ verdict }, n);
    },
  });
}
