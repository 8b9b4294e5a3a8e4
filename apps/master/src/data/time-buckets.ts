/** Report buckets are UTC: an hour or a day, as the ms timestamp of the bucket's start. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export type Bucket = 'hour' | 'day';

export function bucketMs(bucket: Bucket): number {
  return bucket === 'hour' ? HOUR_MS : DAY_MS;
}

export function floorTo(ms: number, size: number): number {
  return Math.floor(ms / size) * size;
}

export function ceilTo(ms: number, size: number): number {
  return Math.ceil(ms / size) * size;
}

/** Bucket starts covering [from, to): from floored, to rounded up, so partial buckets count whole. */
export function bucketStarts(from: number, to: number, bucket: Bucket): number[] {
  const size = bucketMs(bucket);
  const out: number[] = [];
  for (let t = floorTo(from, size); t < ceilTo(to, size); t += size) out.push(t);
  return out;
}
