import { Counter, Gauge, Registry } from 'prom-client';
import type { BalancerStatus } from './balancer.ts';
import type { VrrpState } from './election.ts';

/**
 * Prometheus metrics of one balancer, in its own registry (several balancers may share a
 * process in tests). Gauges and the counters kept in `status()` are read on scrape; state
 * changes are counted as they happen (`transition`, `upstreamChange`).
 */
export interface BalancerMetrics {
  readonly registry: Registry;
  transition(from: VrrpState, to: VrrpState): void;
  upstreamChange(upstream: string, up: boolean): void;
}

const STATES: readonly VrrpState[] = ['init', 'backup', 'master', 'fault'];

export function createBalancerMetrics(status: () => BalancerStatus): BalancerMetrics {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: BalancerStatus) => void) =>
    new Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        fill(this, status());
      },
    });
  // A counter whose total lives elsewhere (status counters): set on scrape.
  const mirrored = (name: string, help: string, labelNames: string[], values: (s: BalancerStatus) => Array<[Record<string, string>, number]>) =>
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of values(status())) if (v > 0) this.inc(labels, v);
      },
    });

  gauge('moat_balancer_holder', '1 while this node accepts on the virtual address.', [], (g, s) => g.set(s.holder ? 1 : 0));
  gauge('moat_balancer_election_state', '1 for the election state this node is in.', ['state'], (g, s) => {
    if (s.election) for (const st of STATES) g.set({ state: st }, s.election.state === st ? 1 : 0);
  });
  gauge('moat_balancer_election_priority', 'Effective election priority (configured, lowered by failed trackers).', [], (g, s) => {
    if (s.election) g.set(s.election.effectivePriority);
  });
  gauge('moat_balancer_upstream_healthy', '1 when the upstream passes its active check (1 when checks are off).', ['upstream'], (g, s) => {
    for (const u of s.upstreams) g.set({ upstream: u.name }, u.healthy ? 1 : 0);
  });
  gauge('moat_balancer_upstream_usable', '1 when a new connection could go to the upstream now.', ['upstream'], (g, s) => {
    for (const u of s.upstreams) g.set({ upstream: u.name }, u.usable ? 1 : 0);
  });
  gauge('moat_balancer_upstream_active_connections', 'Sessions relayed to the upstream now.', ['upstream'], (g, s) => {
    for (const u of s.upstreams) g.set({ upstream: u.name }, u.activeConns);
  });
  gauge('moat_balancer_upstream_fails', 'Passive failures counted in the current fail window.', ['upstream'], (g, s) => {
    for (const u of s.upstreams) g.set({ upstream: u.name }, u.fails);
  });
  mirrored('moat_balancer_connections_total', 'Client connections: relayed to an upstream, or rejected with 421 (none usable).', ['result'], (s) => [
    [{ result: 'relayed' }, s.counters.relayed], [{ result: 'rejected' }, s.counters.rejected],
  ]);
  mirrored('moat_balancer_upstream_failures_total', 'Failed upstream attempts (the next one was tried), by reason.', ['reason'], (s) =>
    Object.entries(s.counters.failures).map(([reason, v]) => [{ reason }, v]));
  mirrored('moat_balancer_adverts_sent_total', 'Election adverts sent (one per target).', [], (s) => [[{}, s.election?.counters.sent ?? 0]]);
  mirrored('moat_balancer_adverts_received_total', 'Election adverts accepted.', [], (s) => [[{}, s.election?.counters.received ?? 0]]);
  mirrored('moat_balancer_adverts_dropped_total', 'Election adverts dropped, by reason (hmac, replay, stale, not-a-peer, …).', ['reason'], (s) =>
    Object.entries(s.election?.counters.dropped ?? {}).map(([reason, v]) => [{ reason }, v]));

  const transitions = new Counter({ name: 'moat_balancer_election_transitions_total', help: 'Election state changes.', labelNames: ['from', 'to'], registers: [registry] });
  const upstreamChanges = new Counter({ name: 'moat_balancer_upstream_state_changes_total', help: 'Active-check state changes of upstreams.', labelNames: ['upstream', 'to'], registers: [registry] });
  return {
    registry,
    transition: (from, to) => transitions.inc({ from, to }),
    upstreamChange: (upstream, up) => upstreamChanges.inc({ upstream, to: up ? 'up' : 'down' }),
  };
}
