import type { BalancerConfig } from './config.ts';
import { applyCheck, initialHealth, type HealthState } from './health.ts';
import { probe } from './health-probe.ts';
import type { Log } from './log.ts';
import { setHealthy } from './pool.ts';
import type { PoolBox } from './proxy.ts';

/** Runs the active checks of every upstream, one at a time per upstream, and feeds the pool. */
export interface HealthChecker {
  states(): ReadonlyMap<string, HealthState>;
  close(): void;
}

export function startHealthChecks(config: BalancerConfig, box: PoolBox, log: Log, onChange: (name: string, up: boolean) => void = () => {}): HealthChecker {
  const hc = config.healthCheck;
  const states = new Map<string, HealthState>(config.upstreams.map((u) => [u.name, initialHealth]));
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const schedule = (name: string, host: string, port: number, delayMs: number) => {
    const t = setTimeout(async () => {
      timers.delete(t);
      if (closed || hc.type === 'none') return;
      const reason = await probe({
        type: hc.type, host, port, timeoutMs: hc.timeoutMs, ehloName: hc.ehloName, sendProxy: config.proxyProtocol === 'v1', localAddress: config.sourceAddress,
      });
      if (closed) return;
      const step = applyCheck(states.get(name) ?? initialHealth, reason, hc.rise, hc.fall);
      states.set(name, step.state);
      if (step.changed) {
        box.pool = setHealthy(box.pool, name, step.state.up);
        log.warn({ event: step.state.up ? 'lb.upstream_up' : 'lb.upstream_down', upstream: name, reason, rise: step.state.riseCount, fall: step.state.fallCount }, `upstream ${name} is ${step.state.up ? 'up' : 'down'}`);
        onChange(name, step.state.up);
      }
      schedule(name, host, port, hc.intervalMs);
    }, delayMs);
    timers.add(t);
  };

  if (hc.type !== 'none') {
    // Spread the first checks over one interval so they do not all fire together.
    config.upstreams.forEach((u, i) => schedule(u.name, u.host, u.port, Math.floor((hc.intervalMs * i) / config.upstreams.length)));
  }
  return {
    states: () => states,
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
