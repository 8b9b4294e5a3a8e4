import { parseTimeInput } from '../../data/time-input.ts';
import { ApiError } from '../../http/api-error.ts';

/** Query inputs the schema cannot fully check, turned into 400s that name the field. */

/**
 * `from`/`to` of a query as epoch ms. The schema's pattern has already refused the wrong
 * shapes; this refuses dates that do not exist (2024-02-31), naming the field like a schema error.
 */
export function queryTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseTimeInput(value);
  if (ms === undefined) throw badQuery(field, 'is not a valid time');
  return ms;
}

/** A 400 naming a query field, shaped like the schema's own validation errors. */
export function badQuery(field: string, message: string): ApiError {
  return new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', [{ field: `query.${field}`, message }]);
}

/** Run a search; a cursor that passed the pattern but is out of range is a 400, not a 500. */
export async function withCursor<T>(search: () => Promise<T>): Promise<T> {
  try {
    return await search();
  } catch (err) {
    if (err instanceof RangeError) throw badQuery('cursor', err.message);
    throw err;
  }
}

/** A report's range: given times, or the `defaultDays` before now. */
export function reportRange(q: { from?: string; to?: string }, now: number, defaultDays: number): { from: number; to: number } {
  const to = queryTime(q.to, 'to') ?? now;
  const from = queryTime(q.from, 'from') ?? to - defaultDays * 86_400_000;
  if (from >= to) throw badQuery('from', 'must be before to');
  return { from, to };
}
