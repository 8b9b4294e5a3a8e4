import { sql, type Kysely } from 'kysely';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { DAY_MS, floorTo } from './time-buckets.ts';

/**
 * The message log's day partitions on PostgreSQL (migration 22): `messages_pYYYYMMDD` and
 * `message_rcpts_pYYYYMMDD` hold the rows received on that UTC day. On SQLite, which keeps one
 * table, every call here does nothing.
 *
 * A day's partitions are made before its rows are written, in the writer's transaction
 * (`ensure`, by `moat_log_partition`, which does nothing for a day already made), together
 * with today's and tomorrow's: so at midnight the next day's partition is normally there
 * already. No default partition catches a row whose day has none (docs/database.md says why):
 * the ingest never writes a row it has not ensured the day of.
 */
export interface LogPartitions {
  /** Make the partitions of the days of these times (and of today and tomorrow) exist. */
  ensure(db: Kysely<MasterSchema>, times: readonly number[]): Promise<void>;
}

/** The UTC day a time falls on, as its first millisecond. */
export const dayOf = (ms: number): number => floorTo(ms, DAY_MS);

/** The partitions' name suffix of a day: `20261206`. */
export function partitionSuffix(day: number): string {
  return new Date(day).toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * Days already made are remembered for as long as retention cannot have dropped them (from
 * yesterday on: the shortest retention keeps more than that); an older day is asked again
 * each time (a late message, or one re-sent after a long outage), as another master's
 * retention may have dropped it meanwhile.
 */
export function createLogPartitions(engine: Engine, now: () => number = Date.now): LogPartitions {
  const made = new Set<number>();
  return {
    async ensure(db, times) {
      if (engine !== 'postgres') return;
      const today = dayOf(now());
      const days = new Set([today, today + DAY_MS, ...times.map(dayOf)]);
      for (const day of [...days].sort((a, b) => a - b)) {
        if (made.has(day)) continue;
        const { rows } = await sql<{ made: boolean }>`SELECT moat_log_partition(${day}) AS made`.execute(db);
        // Made now: not remembered until a later call finds it (this transaction may roll back).
        if (rows[0]?.made === false && day >= today - DAY_MS) made.add(day);
      }
      for (const day of made) if (day < today - DAY_MS) made.delete(day);
    },
  };
}

/** A day partition of the log: its day and the names of its two tables. */
export interface LogPartition {
  readonly day: number;
  readonly messages: string;
  readonly rcpts: string;
}

/** The log's day partitions, oldest first (none on SQLite). */
export async function listLogPartitions(db: Kysely<MasterSchema>, engine: Engine): Promise<LogPartition[]> {
  if (engine !== 'postgres') return [];
  const { rows } = await sql<{ name: string }>`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass('messages') ORDER BY c.relname`.execute(db);
  return rows.flatMap(({ name }) => {
    const m = /^messages_p(\d{4})(\d{2})(\d{2})$/.exec(name);
    if (!m) return [];
    const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    return [{ day, messages: name, rcpts: `message_rcpts_p${partitionSuffix(day)}` }];
  });
}
