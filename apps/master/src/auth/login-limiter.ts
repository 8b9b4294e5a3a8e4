import { decideAttempt, givenBack, planAttempt } from './login-attempts.ts';

export { ACCOUNT_FACTOR } from './login-attempts.ts';

/**
 * Failed-login throttling. An attempt is **counted before the password is checked**, in the
 * same step that decides whether it may go ahead, and given back when the password was right:
 * checking first and counting after the (slow, async) password hash let 150 parallel wrong
 * passwords all through a limit of 10. The counts and the exemption of known addresses are
 * login-attempts.ts's (pure); this file keeps them in memory, for one master's own request
 * rate (the end users' pages); shared-login-limiter.ts keeps them in the database, so masters
 * behind one balancer share one count.
 */

export type Attempt =
  | { readonly allowed: true; readonly ticket: AttemptTicket }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** A counted attempt: hand it back with `succeeded` when the password was right. */
export interface AttemptTicket {
  readonly at: number;
  readonly keys: readonly string[];
  /** The key of "this address signed in to this account" (login-attempts.ts). */
  readonly knownKey: string;
}

export interface LoginLimiter {
  /** Count an attempt of this address at this name now; refused (not counted) with the wait when a limit is reached. */
  attempt(ip: string, username: string): Promise<Attempt>;
  /** The password was right: the attempt is given back, and the address is known for the account. */
  succeeded(ticket: AttemptTicket): Promise<void>;
}

export interface LoginLimiterOptions {
  readonly limit: number;
  readonly windowMs?: number;
  readonly now: () => number;
  /** Bound on tracked keys (attackers choose user names and addresses); the oldest are dropped first. */
  readonly maxKeys?: number;
  /** How long an address that signed in stays exempt from the account-wide count. */
  readonly knownForMs?: number;
}

export const DEFAULT_WINDOW_MS = 60_000;
export const DEFAULT_MAX_KEYS = 100_000;
export const DEFAULT_KNOWN_FOR_MS = 30 * 86_400_000;

/** The limiter in this process's memory: one master's count, synchronous inside (parallel attempts see each other). */
export function createLoginLimiter(options: LoginLimiterOptions): LoginLimiter {
  const { limit, now } = options;
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const knownForMs = options.knownForMs ?? DEFAULT_KNOWN_FOR_MS;
  /** key → timestamps of recent attempts, oldest first; the least recently counted key first. */
  const attempts = new Map<string, readonly number[]>();
  /** known key → when it last signed in. */
  const known = new Map<string, number>();

  /** Set as the most recent, dropping the oldest past maxKeys. */
  function touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > maxKeys) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
  }

  return {
    // Synchronous from here to the count: nothing is awaited between the decision and the count.
    async attempt(ip, username) {
      const at = now();
      const plan = planAttempt('login', ip, username);
      const knownAt = known.get(plan.knownKey);
      const d = decideAttempt(plan, knownAt !== undefined && knownAt > at - knownForMs, (key) => attempts.get(key) ?? [], at, { limit, windowMs });
      if (!d.allowed) return d;
      for (const [key, list] of d.counted) touch(attempts, key, list);
      return { allowed: true, ticket: { at, keys: [...d.counted.keys()], knownKey: plan.knownKey } };
    },
    async succeeded(ticket) {
      for (const key of ticket.keys) {
        const list = attempts.get(key);
        if (list) attempts.set(key, givenBack(list, ticket.at));
      }
      touch(known, ticket.knownKey, now());
    },
  };
}
