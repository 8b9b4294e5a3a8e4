import { Counter, Gauge, type Registry } from 'prom-client';
import type { BalancerReport, EngineHealth } from '@moat/protocol';
import type { NodeRecord } from './node-registry.ts';
import { registerScannerMetrics, type ScannerMetricsSource } from './scanner-metrics.ts';

/** The cluster's health as Prometheus sees it (collected on scrape from the registry). */
export interface ClusterMetrics {
  readonly eventsIngested: Counter<'node' | 'result'>;
  readonly rulesPushes: Counter;
  readonly linkRefusals: Counter<'code'>;
}

/** A node's name and its embedded balancer's last report (heartbeat). */
export type BalancerReports = () => ReadonlyArray<readonly [string, BalancerReport]>;
/** The quarantine index per node: held and expired messages and their bytes. */
export type QuarantineTotals = () => Promise<ReadonlyArray<{ readonly node: string; readonly status: 'held' | 'expired'; readonly messages: number; readonly bytes: number }>>;
/** A node's name and its engines' health from its last heartbeat (protocol 5). */
export type EngineReports = () => ReadonlyArray<readonly [string, readonly EngineHealth[]]>;

export function createClusterMetrics(registry: Registry, nodes: () => Promise<readonly NodeRecord[]>, currentRulesVersion: () => Promise<number>, balancers: BalancerReports = () => [], engines: EngineReports = () => [], quarantine: QuarantineTotals = async () => [], scanners: ScannerMetricsSource = { nodes: () => [], clusterMessages: () => [] }): ClusterMetrics {
  const per = (name: string, help: string, value: (n: NodeRecord) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      async collect() {
        const list = await nodes();
        this.reset();
        for (const n of list) this.set({ node: n.name }, value(n));
      },
    });
  per('moat_node_online', '1 when the scanner is connected to the master.', (n) => (n.online ? 1 : 0));
  per('moat_node_queue_depth', 'Messages in the scanner\'s relay queue (last heartbeat).', (n) => n.queueDepth);
  per('moat_node_outbox_backlog', 'Events the scanner has not yet delivered to the master.', (n) => n.outboxBacklog);
  new Gauge({
    name: 'moat_node_rules_behind',
    help: '1 when the scanner runs an older rules version than the current one.',
    labelNames: ['node'],
    registers: [registry],
    // The current version is a database read: one per scrape, not one per node.
    async collect() {
      const [current, list] = await Promise.all([currentRulesVersion(), nodes()]);
      this.reset();
      for (const n of list) this.set({ node: n.name }, n.rulesVersion === current ? 0 : 1);
    },
  });
  per('moat_node_last_seen_seconds', 'Unix time of the last frame from the scanner.', (n) => n.lastSeen / 1000);
  // ---- embedded balancers (issue 5), from each scanner's last heartbeat ----
  const perBalancer = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, node: string, r: BalancerReport) => void) =>
    new Gauge({
      name, help, labelNames: ['node', ...labelNames], registers: [registry],
      collect() {
        this.reset();
        for (const [node, r] of balancers()) fill(this, node, r);
      },
    });
  perBalancer('moat_balancer_holder', '1 while the node\'s balancer holds the virtual address.', [], (g, node, r) => g.set({ node }, r.holder ? 1 : 0));
  perBalancer('moat_balancer_election_state', '1 for the election state the node\'s balancer is in.', ['state'], (g, node, r) => {
    if (r.election) for (const state of ['init', 'backup', 'master', 'fault']) g.set({ node, state }, r.election.state === state ? 1 : 0);
  });
  perBalancer('moat_balancer_upstream_healthy', '1 when the upstream passes the node\'s active check.', ['upstream'], (g, node, r) => {
    for (const u of r.upstreams) g.set({ node, upstream: u.name }, u.healthy ? 1 : 0);
  });
  perBalancer('moat_balancer_upstream_usable', '1 when the node\'s balancer would send a new connection to the upstream.', ['upstream'], (g, node, r) => {
    for (const u of r.upstreams) g.set({ node, upstream: u.name }, u.usable ? 1 : 0);
  });
  perBalancer('moat_balancer_upstream_active_connections', 'Sessions the node\'s balancer relays to the upstream now.', ['upstream'], (g, node, r) => {
    for (const u of r.upstreams) g.set({ node, upstream: u.name }, u.activeConns);
  });
  // ---- end balancers ----
  // ---- each scanner's engines (clamd, spamd, Rspamd, auth, DNS lists), from its last heartbeat ----
  const perEngine = (name: string, help: string, value: (e: EngineHealth) => number | undefined) =>
    new Gauge({
      name, help, labelNames: ['node', 'engine'], registers: [registry],
      collect() {
        this.reset();
        for (const [node, list] of engines()) for (const e of list) {
          const v = value(e);
          if (v !== undefined) this.set({ node, engine: e.engine }, v);
        }
      },
    });
  perEngine('moat_engine_up', '1 when the engine\'s last scan or probe on the node answered, 0 when it failed (absent before either ran).', (e) => (e.state === 'unknown' ? undefined : e.state === 'up' ? 1 : 0));
  perEngine('moat_engine_scan_p50_seconds', 'Median scan time of the engine on the node over its recent window.', (e) => (e.p50Ms === undefined ? undefined : e.p50Ms / 1000));
  perEngine('moat_engine_scan_p95_seconds', '95th percentile scan time of the engine on the node over its recent window.', (e) => (e.p95Ms === undefined ? undefined : e.p95Ms / 1000));
  perEngine('moat_engine_scans', 'Scans that answered within the engine\'s recent window on the node.', (e) => e.samples);
  perEngine('moat_engine_scan_errors', 'Scans that failed within the engine\'s recent window on the node (each a message that went without it).', (e) => e.errors);
  // ---- end engines ----
  // ---- each scanner's quarantine, from the master's index (every held message is reported by the node that holds it) ----
  const perQuarantine = (name: string, help: string, status: 'held' | 'expired', value: (t: { messages: number; bytes: number }) => number) =>
    new Gauge({
      name, help, labelNames: ['node'], registers: [registry],
      async collect() {
        const totals = await quarantine();
        this.reset();
        for (const t of totals) if (t.status === status) this.set({ node: t.node }, value(t));
      },
    });
  perQuarantine('moat_quarantine_held_messages', 'Messages held in the node\'s quarantine.', 'held', (t) => t.messages);
  perQuarantine('moat_quarantine_held_bytes', 'Bytes of the messages held in the node\'s quarantine (weigh against quarantine.maxBytes).', 'held', (t) => t.bytes);
  perQuarantine('moat_quarantine_expired_messages', 'Messages the node purged from its quarantine by their lifetime or its disk budget (quarantine.days, quarantine.maxBytes), as the index records them.', 'expired', (t) => t.messages);
  // ---- end quarantine ----
  registerScannerMetrics(registry, scanners);
  return {
    eventsIngested: new Counter({ name: 'moat_events_ingested_total', help: 'Scanner events stored (result=stored), skipped as already stored (duplicate) or refused (rejected); rewound: stored events whose (epoch, seq) the node had already used for another event (its sequence went backwards within a run).', labelNames: ['node', 'result'], registers: [registry] }),
    rulesPushes: new Counter({ name: 'moat_rules_pushes_total', help: 'Rules versions pushed to online scanners.', registers: [registry] }),
    linkRefusals: new Counter({ name: 'moat_link_refusals_total', help: 'Cluster link connections refused, by error code.', labelNames: ['code'], registers: [registry] }),
  };
}
