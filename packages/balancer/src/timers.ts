/**
 * RFC 5798 §6.1 timers, in milliseconds. The skew makes a higher-priority backup time out
 * first, so the best backup takes over without a collision.
 */

/** Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256. */
export function skewMs(priority: number, masterAdverIntervalMs: number): number {
  return ((256 - priority) * masterAdverIntervalMs) / 256;
}

/** Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time. */
export function masterDownMs(priority: number, masterAdverIntervalMs: number, downTimerAdverts = 3): number {
  return downTimerAdverts * masterAdverIntervalMs + skewMs(priority, masterAdverIntervalMs);
}

/** The advert carries the interval in centiseconds in 12 bits (1..4095), as VRRPv3 does. */
export function toCentiseconds(ms: number): number {
  return Math.min(4095, Math.max(1, Math.round(ms / 10)));
}
