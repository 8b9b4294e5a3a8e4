import { sql, type RawBuilder } from 'kysely';

/**
 * Keyset pagination: a page ends at (time, rid) of its last row and the next page starts
 * strictly before it, newest first. Stable while rows are added (new rows sort before the
 * first page), and as cheap on page 1,000 as on page 1, unlike OFFSET.
 */
export interface Cursor {
  readonly time: number;
  readonly rid: number;
}

export const CURSOR_PATTERN = '^[0-9]{1,16}[.][0-9]{1,16}$';

export function encodeCursor(c: Cursor): string {
  return `${c.time}.${c.rid}`;
}

export function decodeCursor(text: string): Cursor | undefined {
  if (!new RegExp(CURSOR_PATTERN).test(text)) return undefined;
  const [time, rid] = text.split('.').map(Number);
  return Number.isSafeInteger(time) && Number.isSafeInteger(rid) ? { time: time!, rid: rid! } : undefined;
}

/** "Strictly before the cursor" in (time DESC, rid DESC) order, written so the time index bounds it. */
export function beforeCursor(timeCol: string, ridCol: string, c: Cursor): RawBuilder<unknown> {
  const time = sql.ref(timeCol);
  return sql`${time} <= ${c.time} AND (${time} < ${c.time} OR ${sql.ref(ridCol)} < ${c.rid})`;
}

/**
 * A page from rows read with `LIMIT limit + 1`, newest first: the extra row only says an older
 * page exists, which starts after the page's last row (its `time`, its rid).
 */
export function pageOf<R extends { readonly rid: number }, T>(rows: readonly R[], limit: number, time: (row: R) => number, item: (row: R) => T): { items: T[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(item), next: rows.length > limit && last ? encodeCursor({ time: time(last), rid: last.rid }) : null };
}
