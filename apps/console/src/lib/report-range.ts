/** What the reports page's range controls say: a preset number of days, or a custom from/to. */
export interface RangeChoice {
  readonly preset: string;
  /** `datetime-local` values (the browser's local time), used when preset is `custom`. */
  readonly from: string;
  readonly to: string;
  /** `auto`: hours for up to two days, days beyond (`bucketFor`). */
  readonly bucket: 'auto' | 'hour' | 'day';
  /** A node name, or '' for the whole cluster. */
  readonly node: string;
}

/**
 * The API's `from`/`to` for a choice: a preset counts back from `now`; a custom range needs a
 * start before its end (an empty end means now). Errors say what to fix.
 */
export function reportRange(choice: RangeChoice, now: number): { from: string; to?: string } | { error: string } {
  if (choice.preset !== 'custom') {
    const days = Number(choice.preset);
    return { from: new Date(now - days * 86_400_000).toISOString() };
  }
  if (choice.from === '') return { error: 'Choose the start of the range.' };
  const from = new Date(choice.from).getTime();
  const to = choice.to === '' ? now : new Date(choice.to).getTime();
  if (!Number.isFinite(from)) return { error: 'The start of the range is not a date.' };
  if (!Number.isFinite(to)) return { error: 'The end of the range is not a date.' };
  if (from >= to) return { error: 'The start of the range must be before its end.' };
  return { from: new Date(from).toISOString(), ...(choice.to === '' ? {} : { to: new Date(to).toISOString() }) };
}

/** Hourly bars up to two days (48 bars), daily beyond: 30 days of hours would be 720 slivers. */
export function bucketFor(choice: RangeChoice, range: { from: string; to?: string }, now: number): 'hour' | 'day' {
  if (choice.bucket !== 'auto') return choice.bucket;
  const span = (range.to === undefined ? now : Date.parse(range.to)) - Date.parse(range.from);
  return span <= 2 * 86_400_000 ? 'hour' : 'day';
}

/** A `datetime-local` value (the browser's local time, to the minute) for epoch ms. */
export function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
