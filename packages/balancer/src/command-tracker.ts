import type { CommandTrackConfig } from './config.ts';
import { applyCheck, initialHealth, type HealthState } from './health.ts';
import { runShell } from './hook-command.ts';
import type { Log } from './log.ts';

/**
 * Command trackers (keepalived `vrrp_script`): each runs its command every `intervalMs`, one
 * run at a time; exit 0 passes. The same rise/fall state machine as the active checks
 * (health.ts) decides when it flips; a flip is logged (`ha.track_up` / `ha.track_down`) and
 * reported to `onChange`, which feeds the election. Starts as passing.
 */
export interface CommandTrackers {
  states(): ReadonlyMap<string, HealthState>;
  close(): void;
}

export function startCommandTrackers(tracks: readonly CommandTrackConfig[], log: Log, onChange: (name: string, ok: boolean) => void): CommandTrackers {
  const states = new Map<string, HealthState>(tracks.map((t) => [t.name, initialHealth]));
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const schedule = (t: CommandTrackConfig, delayMs: number) => {
    const timer = setTimeout(async () => {
      timers.delete(timer);
      if (closed) return;
      const r = await runShell(t.command, { MOAT_TRACK_NAME: t.name }, t.timeoutMs);
      if (closed) return;
      const reason = r.ok ? null : r.detail;
      const step = applyCheck(states.get(t.name) ?? initialHealth, reason, t.rise, t.fall);
      states.set(t.name, step.state);
      if (step.changed) {
        const up = step.state.up;
        log.warn({ event: up ? 'ha.track_up' : 'ha.track_down', track: t.name, reason, stderr: r.stderr || undefined }, `tracked check ${t.name} ${up ? 'passes' : 'fails'}`);
        onChange(t.name, up);
      }
      schedule(t, t.intervalMs);
    }, delayMs);
    timers.add(timer);
  };
  tracks.forEach((t) => schedule(t, 0));

  return {
    states: () => states,
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
