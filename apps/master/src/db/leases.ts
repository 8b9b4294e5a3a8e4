import type { Kysely } from 'kysely';
import type { MasterSchema } from './schema.ts';

/**
 * Leases for the jobs that must run once across masters (issue 21: the cache sweeps, the
 * digest round, the scheduled reports' check), as rows of `job_leases` (migration 21), not
 * advisory locks: an advisory lock dies with the session that took it and is not replicated,
 * so a failover or a broken pool connection would silently hand the job to a second master.
 *
 * A lease is a row per job name: its holder (a master instance), a fencing number and an
 * expiry. Taking and renewing are one statement (`INSERT … ON CONFLICT (name) DO UPDATE …
 * WHERE` it expired or is mine `RETURNING fence`); the fence goes up on every change of holder.
 * The expiry is read on the master's clock (masters keep their clocks in step, NTP); fencing
 * is what makes a slow clock or a master that paused past its lease harmless: a write that must
 * not come from a stale holder runs in `fenced()`, a transaction that first takes the lease
 * row while it still has the caller's fence (and renews it), so once another master has taken
 * over, the old holder's write is refused (`LeaseLostError`), and while the old holder's
 * write runs, the taking over waits for it on PostgreSQL's row lock. With SQLite (one master)
 * the lease is always this master's: one cheap statement.
 */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  readonly fence: number;
  readonly expiresAt: number;
}

export interface JobLease {
  /** Take or renew the lease now: it, while this master holds it; undefined while another master does. */
  take(): Promise<Lease | undefined>;
  /** Run `work` in a transaction, only while `lease` still has its fence (renewed with it); else LeaseLostError. */
  fenced<T>(lease: Lease, work: (trx: Kysely<MasterSchema>) => Promise<T>): Promise<T>;
  /** Give up what this master holds (it is stopping): another master takes it at its next try, not after the expiry. */
  release(): Promise<void>;
}

export class LeaseLostError extends Error {
  readonly code = 'MOAT_ERR_LEASE_LOST';
  constructor(lease: Lease) {
    super(`the lease ${lease.name} (fence ${lease.fence}) was taken over by another master`);
  }
}

/** `holder`: this master instance (unique per process: a master restarted under the same name is another holder). */
export function jobLease(db: Kysely<MasterSchema>, name: string, options: { holder: string; ttlMs: number; now: () => number }): JobLease {
  const { holder, ttlMs, now } = options;
  /** The lease this master took last (released when it stops). */
  let last: Lease | undefined;
  return {
    async take() {
      const at = now();
      const row = await db.insertInto('job_leases')
        .values({ name, holder, fence: 1, expires_at: at + ttlMs })
        .onConflict((oc) => oc.column('name')
          .doUpdateSet((eb) => ({
            fence: eb.case().when('job_leases.holder', '=', holder).then(eb.ref('job_leases.fence')).else(eb('job_leases.fence', '+', 1)).end(),
            holder: eb.ref('excluded.holder'),
            expires_at: eb.ref('excluded.expires_at'),
          }))
          .where((eb) => eb.or([eb('job_leases.holder', '=', holder), eb('job_leases.expires_at', '<=', at)])))
        .returning(['fence', 'expires_at'])
        .executeTakeFirst();
      last = row && { name, holder, fence: row.fence, expiresAt: row.expires_at };
      return last;
    },
    async fenced(lease, work) {
      return db.transaction().execute(async (trx) => {
        const held = await trx.updateTable('job_leases')
          // Renewed by the work it fences (PostgreSQL has no two-argument max()).
          .set((eb) => {
            const until = now() + ttlMs;
            return { expires_at: eb.case().when('expires_at', '>', until).then(eb.ref('expires_at')).else(until).end() };
          })
          .where('name', '=', name).where('fence', '=', lease.fence).where('holder', '=', holder)
          .returning('fence')
          .executeTakeFirst();
        if (!held) throw new LeaseLostError(lease);
        return work(trx);
      });
    },
    async release() {
      const lease = last;
      last = undefined;
      if (!lease) return;
      await db.updateTable('job_leases').set({ expires_at: 0 }).where('name', '=', name).where('fence', '=', lease.fence).where('holder', '=', holder).execute();
    },
  };
}
