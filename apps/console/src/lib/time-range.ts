/**
 * A search's time range as the URL keeps it (ISO 8601, UTC: the same link means the same range
 * in every time zone) and as `datetime-local` inputs show it (the browser's local time, to the second).
 */

/** A `datetime-local` value with seconds, in the browser's local time, for an ISO time ('' for none or a bad one). */
export function localSeconds(iso: string | undefined): string {
  if (iso === undefined || iso === '') return '';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * The API's `from`/`to` (ISO, UTC) for the two inputs' values; either may be empty (open-ended).
 * A start not before the end is refused with what to fix, and which field.
 */
export function rangeFromInputs(from: string, to: string): { from?: string; to?: string } | { error: string; field: 'from' | 'to' } {
  const f = from === '' ? undefined : new Date(from).getTime();
  const t = to === '' ? undefined : new Date(to).getTime();
  if (f !== undefined && !Number.isFinite(f)) return { error: 'The start is not a date.', field: 'from' };
  if (t !== undefined && !Number.isFinite(t)) return { error: 'The end is not a date.', field: 'to' };
  if (f !== undefined && t !== undefined && f >= t) return { error: 'The start must be before the end.', field: 'from' };
  return { ...(f === undefined ? {} : { from: new Date(f).toISOString() }), ...(t === undefined ? {} : { to: new Date(t).toISOString() }) };
}
