import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { dayOf } from '../data/log-partitions.ts';
import { pruneMessageLog } from '../data/log-retention.ts';
import { DAY_MS } from '../data/time-buckets.ts';

/** How often the message log's retention runs (a once-only job: the master holding its lease). */
export const LOG_RETENTION_MS = 3_600_000;

/**
 * The start of the oldest day the message log keeps: `days` whole UTC days before today's, so
 * on PostgreSQL a run drops whole day partitions and deletes no rows (pure).
 */
export function logRetentionBoundary(now: number, days: number): number {
  return dayOf(now) - days * DAY_MS;
}

/**
 * The message log's retention (`messageLog.retentionDays`; 0 keeps it for ever): entries older
 * than that many days are removed, with their recipients. The roll-ups behind the reports stay.
 * Running twice is harmless (what is gone is gone), so it is not fenced: the lease only spares
 * the other masters the work.
 */
export function logRetention(db: Kysely<MasterSchema>, engine: Engine, days: number, log: Logger, now: () => number): () => Promise<void> {
  return async () => {
    if (days === 0) return;
    const before = logRetentionBoundary(now(), days);
    const removed = await pruneMessageLog(db, engine, before);
    if (removed.partitionsDropped + removed.rowsDeleted > 0) {
      log.info({ event: 'LOG_RETENTION', before: new Date(before).toISOString(), ...removed }, 'message log entries past their retention removed');
    }
  };
}
