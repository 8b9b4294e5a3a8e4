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
  readonly min: number;
  readonly max: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

export function growthOf(samples: readonly Sample[]): Growth {
  if (samples.length < 4) throw new Error(`need at least 4 samples, got ${samples.length}`);
  const q = Math.floor(samples.length / 4);
  const values = samples.map((s) => s.value);
  const firstQuarter = mean(values.slice(0, q));
  const lastQuarter = mean(values.slice(-q));
  const mt = mean(samples.map((s) => s.t));
  const mv = mean(values);
  const num = samples.reduce((s, x) => s + (x.t - mt) * (x.value - mv), 0);
  const den = samples.reduce((s, x) => s + (x.t - mt) ** 2, 0);
  return {
    samples: samples.length, firstQuarter, lastQuarter, growth: lastQuarter - firstQuarter,
    slopePerMinute: den === 0 ? 0 : (num / den) * 60,
    min: Math.min(...values), max: Math.max(...values),
  };
}
