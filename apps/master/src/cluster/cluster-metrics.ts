import { Counter, Gauge, type Registry } from 'prom-client';
import type { NodeRecord } from './node-registry.ts';

/** The cluster's health as Prometheus sees it (collected on scrape from the registry). */
export interface ClusterMetrics {
  readonly eventsIngested: Counter<'node' | 'result'>;
  readonly rulesPushes: Counter;
  readonly linkRefusals: Counter<'code'>;
}

export function createClusterMetrics(registry: Registry, nodes: () => readonly NodeRecord[], currentRulesVersion: () => number): ClusterMetrics {
  const per = (name: string, help: string, value: (n: NodeRecord) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      collect() {
        this.reset();
        for (const n of nodes()) this.set({ node: n.name }, value(n));
      },
    });
  per('moat_node_online', '1 when the scanner is connected to the master.', (n) => (n.online ? 1 : 0));
  per('moat_node_queue_depth', 'Messages in the scanner\'s relay queue (last heartbeat).', (n) => n.queueDepth);
  per('moat_node_outbox_backlog', 'Events the scanner has not yet delivered to the master.', (n) => n.outboxBacklog);
  per('moat_node_rules_behind', '1 when the scanner runs an older rules version than the current one.', (n) => (n.rulesVersion === currentRulesVersion() ? 0 : 1));
  per('moat_node_last_seen_seconds', 'Unix time of the last frame from the scanner.', (n) => n.lastSeen / 1000);
  return {
    eventsIngested: new Counter({ name: 'moat_events_ingested_total', help: 'Scanner events stored (result=stored), skipped as already stored (duplicate) or refused (rejected).', labelNames: ['node', 'result'], registers: [registry] }),
    rulesPushes: new Counter({ name: 'moat_rules_pushes_total', help: 'Rules versions pushed to online scanners.', registers: [registry] }),
    linkRefusals: new Counter({ name: 'moat_link_refusals_total', help: 'Cluster link connections refused, by error code.', labelNames: ['code'], registers: [registry] }),
  };
}
