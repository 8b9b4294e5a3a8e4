/**
 * Rows per multi-row statement (INSERT … VALUES, IN lists): 500 rows of the widest table (the
 * log's 21 columns) bind 10,500 parameters, well under SQLite's 32,766 and PostgreSQL's 65,535.
 * One statement per 500 rows instead of one per row is most of what the ingest saves.
 */
export const ROWS_PER_STATEMENT = 500;

/** Runs `run` on consecutive slices of `rows`, one after the other (inside one transaction they keep their order). */
export async function inChunks<T>(rows: readonly T[], run: (chunk: T[]) => Promise<unknown>, size = ROWS_PER_STATEMENT): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await run(rows.slice(i, i + size));
}
