import { sql, type Kysely } from 'kysely';
import type { GreylistDecision, GreylistEntry, GreylistTimes, GreylistTriplet } from '@moat/rules';
import type { MasterSchema } from '../db/schema.ts';

/**
 * The cluster's greylist on the master: every scanner's attempts of a triplet meet here, so a
 * retry that lands on another scanner is recognised. One statement per check (an upsert that
 * decides from the stored row and returns the row it leaves), so two scanners asking at once,
 * through one master or several on one PostgreSQL, cannot both create the triplet or both
 * start it over.
 */
export interface GreylistStore {
  /** Record an attempt of `t` at `now` and decide it. */
  check(t: GreylistTriplet, times: GreylistTimes, now: number): Promise<GreylistDecision>;
  /** Forget expired triplets; returns how many went. */
  sweep(now: number): Promise<number>;
  count(): Promise<number>;
}

export function createGreylistStore(db: Kysely<MasterSchema>): GreylistStore {
  return {
    async check(t, times, now) {
      const delayMs = times.delaySeconds * 1000;
      // decideGreylist (@moat/rules) in SQL, on the stored row (the names in SET are its old
      // values): expired → started over; deferred within the delay → kept; otherwise passed and renewed.
      const expired = sql<boolean>`greylist.expires_at <= ${now}`;
      const waiting = sql<boolean>`greylist.passed_at IS NULL AND ${now} - greylist.first_seen < ${delayMs}`;
      const row = await db
        .insertInto('greylist')
        .values({ ...t, first_seen: now, passed_at: null, expires_at: now + times.expirySeconds * 1000 })
        .onConflict((oc) =>
          oc.columns(['network', 'sender', 'recipient']).doUpdateSet({
            first_seen: sql<number>`CASE WHEN ${expired} THEN ${now} ELSE greylist.first_seen END`,
            passed_at: sql<number | null>`CASE WHEN ${expired} OR (${waiting}) THEN NULL ELSE coalesce(greylist.passed_at, ${now}) END`,
            expires_at: sql<number>`CASE WHEN ${expired} THEN ${now + times.expirySeconds * 1000} WHEN ${waiting} THEN greylist.expires_at ELSE ${now + times.passSeconds * 1000} END`,
          }),
        )
        .returning(['first_seen', 'passed_at', 'expires_at'])
        .executeTakeFirstOrThrow();
      return decisionOf(times, { firstSeen: row.first_seen, passedAt: row.passed_at, expiresAt: row.expires_at }, now);
    },
    async sweep(now) {
      return Number((await db.deleteFrom('greylist').where('expires_at', '<=', now).executeTakeFirst()).numDeletedRows);
    },
    async count() {
      const row = await db.selectFrom('greylist').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      return Number(row?.n ?? 0);
    },
  };
}

/** The decision an entry just stored stands for: passed, or deferred until its delay is served. */
export function decisionOf(times: GreylistTimes, entry: GreylistEntry, now: number): GreylistDecision {
  if (entry.passedAt !== null) return { pass: true, entry, retryInSeconds: 0 };
  // A triplet first seen now waits the whole delay (as decideGreylist says, even a delay of 0).
  if (entry.firstSeen === now) return { pass: false, entry, retryInSeconds: times.delaySeconds };
  return { pass: false, entry, retryInSeconds: Math.max(1, Math.ceil((entry.firstSeen + times.delaySeconds * 1000 - now) / 1000)) };
}
