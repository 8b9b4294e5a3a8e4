import type { EngineHealth } from '@moat/protocol';

/** How far back latency and error counts look. */
export const HEALTH_WINDOW_MS = 5 * 60_000;
/** Samples kept per engine within the window (a busy node keeps its most recent ones). */
const MAX_SAMPLES = 2048;

interface EngineState {
  state: 'up' | 'down' | 'unknown';
  checkedAt?: number;
  /** [at, ms] of scans that answered, oldest first. */
  samples: [number, number][];
  /** Times of failures (scans and probes), oldest first. */
  failures: number[];
  lastError?: { message: string; at: number };
}

/**
 * Each analyzer's engine as this scanner sees it: the outcome of every scan and health probe,
 * kept for the heartbeat (`engines`, protocol 5). Pure bookkeeping with an injected clock: the
 * last outcome says up or down, latency percentiles and error counts cover the last five minutes.
 */
export class EngineHealthTracker {
  private readonly engines = new Map<string, EngineState>();
  private readonly now: () => number;

  constructor(names: readonly string[], now: () => number = Date.now) {
    this.now = now;
    this.track(names);
  }

  /** Report these engines (as `unknown` until they are seen). */
  track(names: readonly string[]): void {
    for (const name of names) this.entry(name);
  }

  /** A scan answered in `ms` (`latency: false` for a probe: it says up, but is no scan time). */
  succeeded(name: string, ms: number, latency = true): void {
    const e = this.entry(name);
    const at = this.now();
    e.state = 'up';
    e.checkedAt = at;
    if (latency) {
      e.samples.push([at, ms]);
      if (e.samples.length > MAX_SAMPLES) e.samples.splice(0, e.samples.length - MAX_SAMPLES);
    }
  }

  /** A scan or probe failed: the engine is down until one succeeds. Only a scan counts in `errors` (a message went without it). */
  failed(name: string, message: string, scan = true): void {
    const e = this.entry(name);
    const at = this.now();
    e.state = 'down';
    e.checkedAt = at;
    e.lastError = { message: message.slice(0, 300), at };
    if (scan) e.failures.push(at);
    if (e.failures.length > MAX_SAMPLES) e.failures.splice(0, e.failures.length - MAX_SAMPLES);
  }

  stateOf(name: string): 'up' | 'down' | 'unknown' {
    return this.engines.get(name)?.state ?? 'unknown';
  }

  report(): EngineHealth[] {
    const since = this.now() - HEALTH_WINDOW_MS;
    return [...this.engines].map(([engine, e]) => {
      while (e.samples.length > 0 && e.samples[0]![0] < since) e.samples.shift();
      while (e.failures.length > 0 && e.failures[0]! < since) e.failures.shift();
      const times = e.samples.map(([, ms]) => ms).sort((a, b) => a - b);
      return {
        engine,
        state: e.state,
        ...(e.checkedAt !== undefined ? { checkedAt: e.checkedAt } : {}),
        samples: times.length,
        windowSeconds: HEALTH_WINDOW_MS / 1000,
        ...(times.length > 0 ? { p50Ms: percentile(times, 0.5), p95Ms: percentile(times, 0.95) } : {}),
        errors: e.failures.length,
        ...(e.lastError ? { lastError: { ...e.lastError } } : {}),
      };
    });
  }

  private entry(name: string): EngineState {
    let e = this.engines.get(name);
    if (!e) this.engines.set(name, (e = { state: 'unknown', samples: [], failures: [] }));
    return e;
  }
}

/** Nearest-rank percentile of sorted values, to a tenth of a millisecond. */
function percentile(sorted: readonly number[], p: number): number {
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return Math.round(v * 10) / 10;
}
