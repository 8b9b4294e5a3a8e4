import type { BalancerHandle, BalancerStatus, UpstreamChange, UpstreamConfig } from '@moat/balancer';
import { MAX_REPORTED_UPSTREAMS, type BalancerReport } from '@moat/protocol';
import type { Rules } from '@moat/rules';

type NodeSettings = Rules['nodes'][string];

/** The balancer's weight range (nginx: 1…256 is plenty for proportions). */
const MAX_WEIGHT = 256;

/**
 * Per-node cluster settings from the rules document (`nodes: { <scanner name>: {...} }`) as
 * changes to the balancer's upstreams, matched by upstream `name` = scanner name. An upstream
 * with no entry goes back to its `balancer.upstreams[]` config values, so removing a node's
 * entry on the master undoes a drain. `maintenance` and weight 0 mean `down` (no new
 * connections, sessions in flight finish); a `down: true` in the local config stays down
 * whatever the master says; weights above 256 are capped. Pure.
 */
export function upstreamChanges(upstreams: readonly UpstreamConfig[], nodes: Readonly<Record<string, NodeSettings>>): Array<[string, Required<UpstreamChange>]> {
  return upstreams.map((u) => {
    const s = Object.hasOwn(nodes, u.name) ? nodes[u.name] : undefined;
    if (!s) return [u.name, { weight: u.weight, backup: u.backup, down: u.down }];
    return [u.name, { weight: Math.max(1, Math.min(MAX_WEIGHT, s.weight)), backup: s.backup, down: u.down || s.maintenance || s.weight === 0 }];
  });
}

/**
 * Embedded in a scanner, `localUpstream` (this node's own scanner, which active-passive needs)
 * defaults to the upstream named like the node, when there is one. Pure: a raw section in, out.
 */
export function withLocalUpstream<T extends { localUpstream?: unknown; upstreams?: unknown }>(section: T, nodeName: string): T {
  if (section.localUpstream !== undefined || !Array.isArray(section.upstreams)) return section;
  const named = (section.upstreams as Array<{ name?: unknown }>).some((u) => u?.name === nodeName);
  return named ? { ...section, localUpstream: nodeName } : section;
}

export function applyNodeSettings(balancer: BalancerHandle, upstreams: readonly UpstreamConfig[], nodes: Readonly<Record<string, NodeSettings>>): void {
  for (const [name, change] of upstreamChanges(upstreams, nodes)) balancer.updateUpstream(name, change);
}

/**
 * The balancer's status, summarised for the heartbeat (`BalancerReportSchema`): bounded to
 * `MAX_REPORTED_UPSTREAMS` upstreams, weights as configured. Pure.
 */
export function balancerReport(status: BalancerStatus): BalancerReport {
  return {
    holder: status.holder,
    listen: status.listen ? `${status.listen.host}:${status.listen.port}` : null,
    election: status.election ? { state: status.election.state, priority: status.election.priority, effectivePriority: status.election.effectivePriority, master: status.election.master } : null,
    upstreams: status.upstreams.slice(0, MAX_REPORTED_UPSTREAMS).map((u) => ({
      name: u.name, healthy: u.healthy, usable: u.usable, down: u.down, backup: u.backup, fails: u.fails, weight: u.weight, activeConns: u.activeConns,
    })),
  };
}
