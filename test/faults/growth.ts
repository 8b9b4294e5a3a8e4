/**
 * Growth of a resource sampled over time, pure: the mean of the first and last quarter of the
 * samples and the least-squares slope. Quarters rather than first and last sample, so one
 * garbage collection at the wrong moment does not decide the verdict.
 */
export interface Sample {
  /** Seconds since the start of the measured part of the run. */
  readonly t: number;
  readonly value: number;
}

export interface Growth {
  readonly samples: number;
  readonly firstQuarter: number;
  readonly lastQuarter: number;
  /** lastQuarter - firstQuarter. */
  readonly growth: number;
  /** Least-squares slope, per minute. */
  readonly slopePerMinute: number;
  /** Least-squares slope of the second half of the samples only, per minute: ~0 once settled. */
  readonly secondHalfSlopePerMinute: number;
  /** The median of each quarter of the samples, in order (a step, a ramp or a plateau). */
  readonly quarterMedians: readonly [number, number, number, number];
  readonly min: number;
  readonly max: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of value over t, per minute (0 when every t is the same). */
function slopePerMinute(samples: readonly Sample[]): number {
  const mt = mean(samples.map((s) => s.t));
  const mv = mean(samples.map((s) => s.value));
  const num = samples.reduce((s, x) => s + (x.t - mt) * (x.value - mv), 0);
  const den = samples.reduce((s, x) => s + (x.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

export function growthOf(samples: readonly Sample[]): Growth {
  if (samples.length < 4) throw new Error(`need at least 4 samples, got ${samples.length}`);
  const q = Math.floor(samples.length / 4);
  const values = samples.map((s) => s.value);
  const firstQuarter = mean(values.slice(0, q));
  const lastQuarter = mean(values.slice(-q));
  const quarter = (i: number) => median(values.slice(Math.round((i * values.length) / 4), Math.round(((i + 1) * values.length) / 4)));
  return {
    samples: samples.length, firstQuarter, lastQuarter, growth: lastQuarter - firstQuarter,
    slopePerMinute: slopePerMinute(samples),
    secondHalfSlopePerMinute: slopePerMinute(samples.slice(Math.floor(samples.length / 2))),
    quarterMedians: [quarter(0), quarter(1), quarter(2), quarter(3)],
    min: Math.min(...values), max: Math.max(...values),
  };
}
