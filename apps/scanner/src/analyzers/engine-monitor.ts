import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Analyzer } from './analyzer.ts';
import type { EngineHealthTracker } from './engine-health.ts';

/**
 * The analyzers, each reporting every scan's time and failure to the tracker (a scan that
 * outlived its time-out counts as a failure when its aborted work settles). Logs ENGINE_DOWN
 * when an engine that was up (or not yet seen) fails, ENGINE_UP when it answers again.
 */
export function monitorAnalyzers(analyzers: readonly Analyzer[], tracker: EngineHealthTracker, log: Logger): Analyzer[] {
  tracker.track(analyzers.map((a) => a.name));
  return analyzers.map((a) => ({
    ...a,
    async run(input, signal) {
      const started = performance.now();
      try {
        const findings = await a.run(input, signal);
        record(tracker, log, a.name, { ok: true, ms: performance.now() - started, scan: true });
        return findings;
      } catch (err) {
        const message = signal.aborted ? `no answer within ${a.timeoutMs} ms` : errorText(err);
        record(tracker, log, a.name, { ok: false, message, scan: true });
        throw err;
      }
    },
  }));
}

/**
 * Ask every engine that can be asked (clamd, spamd, Rspamd: `probe`) whether it is up, every
 * `intervalMs`, each bounded by its analyzer's time-out; so a node without mail still knows.
 * Nothing when `intervalMs` is 0.
 */
export function startEngineProbes(analyzers: readonly Analyzer[], tracker: EngineHealthTracker, intervalMs: number, log: Logger): { stop(): void } {
  const probed = analyzers.filter((a) => a.probe);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const round = async () => {
    await Promise.all(probed.map(async (a) => {
      const started = performance.now();
      const signal = AbortSignal.timeout(a.timeoutMs);
      try {
        await a.probe!(signal);
        record(tracker, log, a.name, { ok: true, ms: performance.now() - started, scan: false });
      } catch (err) {
        record(tracker, log, a.name, { ok: false, message: signal.aborted ? `no answer to a probe within ${a.timeoutMs} ms` : errorText(err), scan: false });
      }
    }));
    if (!stopped) timer = setTimeout(() => void round(), intervalMs).unref();
  };
  if (intervalMs > 0 && probed.length > 0) void round();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function record(tracker: EngineHealthTracker, log: Logger, engine: string, outcome: { ok: true; ms: number; scan: boolean } | { ok: false; message: string; scan: boolean }): void {
  const before = tracker.stateOf(engine);
  if (outcome.ok) {
    tracker.succeeded(engine, outcome.ms, outcome.scan);
    if (before === 'down') log.info({ event: 'ENGINE_UP', engine, by: outcome.scan ? 'scan' : 'probe' }, `${engine} answers again`);
  } else {
    tracker.failed(engine, outcome.message, outcome.scan);
    if (before !== 'down') log.warn({ event: 'ENGINE_DOWN', engine, by: outcome.scan ? 'scan' : 'probe', error: outcome.message }, `${engine} is down`);
  }
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
