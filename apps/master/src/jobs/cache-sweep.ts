import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { sweepLoginLimits } from '../auth/shared-login-limiter.ts';
import type { MasterSchema } from '../db/schema.ts';
import { createGreylistStore } from '../greylist/greylist-store.ts';
import { createCalloutCacheStore } from '../verification/verification-store.ts';

/** How often the shared caches are swept (a once-only job: the master holding its lease). */
export const CACHE_SWEEP_MS = 60_000;

/**
 * Delete what has expired from the caches masters share: greylist triplets, call-out results,
 * and the login limiter's counts and known addresses (bounded to their most recent rows).
 * Sweeping twice is harmless, so the writes are not fenced: the lease only spares the other
 * masters the work.
 */
export function cacheSweep(db: Kysely<MasterSchema>, log: Logger, now: () => number): () => Promise<void> {
  const greylist = createGreylistStore(db);
  const callouts = createCalloutCacheStore(db);
  return async () => {
    const at = now();
    const removed = { greylist: await greylist.sweep(at), callouts: await callouts.sweep(at), loginLimits: await sweepLoginLimits(db, at) };
    if (removed.greylist + removed.callouts + removed.loginLimits > 0) log.debug({ event: 'CACHE_SWEEP', ...removed }, 'expired cache rows removed');
  };
}
