import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { decideAttempt, givenBack, planAttempt } from './login-attempts.ts';
import { DEFAULT_KNOWN_FOR_MS, DEFAULT_MAX_KEYS, DEFAULT_WINDOW_MS, type LoginLimiter, type LoginLimiterOptions } from './login-limiter.ts';

/**
 * The login limiter shared through the database (migration 21), so masters behind one
 * balancer count one attempt once, not once each: an attacker gets the limit, not the limit
 * times the number of masters.
 *
 * Count-then-decide stays atomic across masters: an attempt is one transaction that first
 * takes its keys' rows (an upsert that changes nothing, in key order, so two attempts never
 * wait on each other crosswise: on PostgreSQL the later waits on the earlier's row lock and
 * then reads what it committed), decides on what they hold (login-attempts.ts, the same pure
 * decision as in memory), and writes the counts back before it commits. On SQLite the one
 * connection runs one transaction at a time. A right password gives the attempt back in the
 * same way and records the address as known for the account.
 *
 * Rows are bounded: a key's row expires a window after its last attempt, a known address after
 * `knownForMs`; `sweepLoginLimits` deletes both and then the oldest beyond `maxKeys` (run as a
 * once-only job with the other sweeps, jobs/cache-sweep.ts).
 */
export interface SharedLoginLimiterOptions extends Omit<LoginLimiterOptions, 'maxKeys'> {
  /** Keeps limiters that share the tables apart ('login', 'enduser-link'). */
  readonly scope: string;
}

const DEADLOCK = '40P01';
const TRIES = 3;

export function createSharedLoginLimiter(db: Kysely<MasterSchema>, options: SharedLoginLimiterOptions): LoginLimiter {
  const { limit, now, scope } = options;
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const knownForMs = options.knownForMs ?? DEFAULT_KNOWN_FOR_MS;

  /** Take the keys' rows for this transaction (created empty where missing) and read them. */
  async function lockKeys(trx: Kysely<MasterSchema>, keys: readonly string[], at: number): Promise<Map<string, number[]>> {
    const rows = await trx.insertInto('login_attempts')
      .values([...keys].sort().map((key) => ({ key, attempts: '', expires_at: at })))
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ attempts: eb.ref('login_attempts.attempts') })))
      .returning(['key', 'attempts'])
      .execute();
    return new Map(rows.map((r) => [r.key, r.attempts === '' ? [] : r.attempts.split(',').map(Number)]));
  }

  async function store(trx: Kysely<MasterSchema>, lists: ReadonlyMap<string, readonly number[]>): Promise<void> {
    await trx.insertInto('login_attempts')
      .values([...lists].map(([key, list]) => ({ key, attempts: list.join(','), expires_at: (list.at(-1) ?? 0) + windowMs })))
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ attempts: eb.ref('excluded.attempts'), expires_at: eb.ref('excluded.expires_at') })))
      .execute();
  }

  /** A transaction, tried again when PostgreSQL broke a deadlock with the sweep by aborting it. */
  async function inTransaction<T>(work: (trx: Kysely<MasterSchema>) => Promise<T>): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await db.transaction().execute(work);
      } catch (err) {
        if ((err as { code?: string }).code !== DEADLOCK || tried >= TRIES) throw err;
      }
    }
  }

  return {
    async attempt(ip, username) {
      const plan = planAttempt(scope, ip, username);
      return inTransaction(async (trx) => {
        const at = now();
        const known = await trx.selectFrom('login_known').select('signed_in_at').where('key', '=', plan.knownKey).executeTakeFirst();
        const lists = await lockKeys(trx, [plan.ipKey, plan.pairKey, plan.accountKey], at);
        const d = decideAttempt(plan, known !== undefined && known.signed_in_at > at - knownForMs, (key) => lists.get(key) ?? [], at, { limit, windowMs });
        if (!d.allowed) return d;
        await store(trx, d.counted);
        return { allowed: true, ticket: { at, keys: [...d.counted.keys()], knownKey: plan.knownKey } };
      });
    },
    async succeeded(ticket) {
      await inTransaction(async (trx) => {
        const at = now();
        const lists = await lockKeys(trx, ticket.keys, at);
        await store(trx, new Map([...lists].map(([key, list]) => [key, givenBack(list, ticket.at)])));
        await trx.insertInto('login_known').values({ key: ticket.knownKey, signed_in_at: at })
          .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ signed_in_at: eb.ref('excluded.signed_in_at') })))
          .execute();
      });
    },
  };
}

/**
 * Keep the tables bounded (every scope's rows): delete counts a window past their last
 * attempt and known addresses past `knownForMs`, then the oldest beyond `maxKeys` in each (an
 * attacker chooses names and, with IPv6, many addresses). Returns how many rows went.
 */
export async function sweepLoginLimits(db: Kysely<MasterSchema>, at: number, options: { knownForMs?: number; maxKeys?: number } = {}): Promise<number> {
  const knownForMs = options.knownForMs ?? DEFAULT_KNOWN_FOR_MS;
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  async function trim(table: 'login_attempts' | 'login_known', column: 'expires_at' | 'signed_in_at', before: number): Promise<number> {
    let removed = Number((await db.deleteFrom(table).where(column, '<=', before).executeTakeFirst()).numDeletedRows);
    const count = Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    if (count > maxKeys) {
      const oldest = db.selectFrom(table).select('key').orderBy(column).limit(count - maxKeys);
      removed += Number((await db.deleteFrom(table).where('key', 'in', oldest).executeTakeFirst()).numDeletedRows);
    }
    return removed;
  }
  return (await trim('login_attempts', 'expires_at', at)) + (await trim('login_known', 'signed_in_at', at - knownForMs));
}
