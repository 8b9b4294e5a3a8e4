/**
 * Active health check state per upstream (the rise/fall counters of HAProxy and of
 * tengine's check_status_update). Pure: a state and one check result in, the next state out.
 */
export interface HealthState {
  readonly up: boolean;
  readonly riseCount: number;
  readonly fallCount: number;
  readonly lastReason: string | null;
}

export const initialHealth: HealthState = { up: true, riseCount: 0, fallCount: 0, lastReason: null };

export interface HealthStep {
  readonly state: HealthState;
  /** True when this result flipped up ↔ down. */
  readonly changed: boolean;
}

/** `reason` is null for a passed check, else a short code (e.g. `L4CON`, `L7STS`). */
export function applyCheck(s: HealthState, reason: string | null, rise: number, fall: number): HealthStep {
  if (reason === null) {
    const riseCount = s.riseCount + 1;
    const up = s.up || riseCount >= rise;
    return { state: { up, riseCount, fallCount: 0, lastReason: null }, changed: up !== s.up };
  }
  const fallCount = s.fallCount + 1;
  const up = s.up && fallCount < fall;
  return { state: { up, riseCount: 0, fallCount, lastReason: reason }, changed: up !== s.up };
}
