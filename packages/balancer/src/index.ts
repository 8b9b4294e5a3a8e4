export {
  BalancerConfigSchema, ElectionSchema, UpstreamSchema, loadBalancerConfigFile, validateBalancerConfig,
  type BalancerConfig, type ElectionConfig, type HealthCheckConfig, type UpstreamConfig,
} from './config.ts';
export { startBalancer, type BalancerDeps, type BalancerHandle, type BalancerStatus, type UpstreamStatus } from './balancer.ts';
export { startElection, type ElectionHooks, type ElectionNode, type ElectionStatus, type ElectionCounters, type TransitionInfo } from './election-node.ts';
export { effectivePriority, type VrrpState } from './election.ts';
export type { BalancerMetrics } from './metrics.ts';
export { ALL_DOWN_REPLY, type ProxyCounters } from './proxy.ts';
export { masterDownMs, skewMs } from './timers.ts';
export type { Log } from './log.ts';
export type { UpstreamChange } from './pool.ts';
export { probe, type ProbeOptions } from './health-probe.ts';
export { runHookCommand, type HookContext } from './hook-command.ts';
