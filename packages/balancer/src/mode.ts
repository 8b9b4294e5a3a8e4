import type { BalancerConfig, UpstreamConfig } from './config.ts';
import type { UpstreamChange } from './pool.ts';

/**
 * `mode`: in active-passive only `localUpstream` (this node's own scanner) takes traffic; every
 * other upstream is forced into the backup group, so it stands by and gets connections only
 * while the local one is unusable (down, failing, full). active-active changes nothing. Pure.
 */
export function upstreamsForMode(config: Pick<BalancerConfig, 'mode' | 'localUpstream' | 'upstreams'>): UpstreamConfig[] {
  if (config.mode !== 'active-passive') return [...config.upstreams];
  return config.upstreams.map((u) => (u.name === config.localUpstream ? u : { ...u, backup: true }));
}

/** A settings change (e.g. from the master) cannot pull a standby out of the backup group. */
export function changeForMode(config: Pick<BalancerConfig, 'mode' | 'localUpstream'>, name: string, change: UpstreamChange): UpstreamChange {
  if (config.mode !== 'active-passive' || name === config.localUpstream) return change;
  return { ...change, backup: true };
}
