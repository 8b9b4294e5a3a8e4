import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { MasterSchema } from '../db/schema.ts';
import { refreshTopHeads } from '../data/top-heads.ts';

/** How often the top lists' heads are taken (a once-only job: the master holding its lease). */
export const TOP_HEADS_MS = 300_000;

/**
 * Take the heads of the daily top lists (data/top-heads.ts) for the days before today that have
 * none or whose traffic moved since (late events), newest first, at most a month of days per
 * run (a new master catches up a long history over a few runs). Taking a day twice is harmless,
 * so the writes are not fenced: the lease only spares the other masters the work.
 */
export function topHeads(db: Kysely<MasterSchema>, log: Logger, now: () => number): () => Promise<void> {
  return async () => {
    const started = Date.now();
    const days = await refreshTopHeads(db, now());
    if (days.length > 0) log.info({ event: 'TOP_HEADS', days: days.length, newest: new Date(days[0]!).toISOString().slice(0, 10), ms: Date.now() - started }, 'heads of the daily top lists taken');
  };
}
