import { isIPv6 } from 'node:net';

/**
 * Failed-login throttling, pure and clock-injected. An attempt is **counted before the password
 * is checked**, in the same synchronous call that decides whether it may go ahead, and given
 * back when the password was right: checking first and counting after the (slow, async)
 * password hash let 150 parallel wrong passwords all through a limit of 10.
 *
 * Three counts, each over any `windowMs`:
 * - per client address (IPv6: per /64, what one client holds), `limit`: one client guessing
 *   many accounts is stopped;
 * - per account and address, `limit`: one client guessing one account;
 * - per account from everywhere, `limit × ACCOUNT_FACTOR`: many clients (a botnet) guessing
 *   one account. An address that has signed in to that account before is exempt from this
 *   one, so a flood from elsewhere cannot lock the account's owner out: what 10 wrong logins
 *   from anywhere used to do.
 */

/** The account-wide count allows this many times the per-address limit. */
export const ACCOUNT_FACTOR = 10;

export type Attempt =
  | { readonly allowed: true; readonly ticket: AttemptTicket }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** A counted attempt: hand it back with `succeeded` when the password was right. */
export interface AttemptTicket {
  readonly at: number;
  readonly keys: readonly string[];
  readonly username: string;
  readonly address: string;
}

export interface LoginLimiter {
  /** Count an attempt of this address at this name now; refused (not counted) with the wait when a limit is reached. */
  attempt(ip: string, username: string): Attempt;
  /** The password was right: the attempt is given back, and the address is known for the account. */
  succeeded(ticket: AttemptTicket): void;
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

export function createLoginLimiter(options: LoginLimiterOptions): LoginLimiter {
  const { limit, now } = options;
  const windowMs = options.windowMs ?? 60_000;
  const maxKeys = options.maxKeys ?? 100_000;
  const knownForMs = options.knownForMs ?? 30 * 86_400_000;
  /** key → timestamps of recent attempts, oldest first. */
  const attempts = new Map<string, number[]>();
  /** "account|address" → when it last signed in. */
  const known = new Map<string, number>();

  function recent(key: string, at: number): number[] {
    const list = attempts.get(key);
    if (!list) return [];
    while (list.length > 0 && (list[0] ?? 0) <= at - windowMs) list.shift();
    if (list.length === 0) attempts.delete(key);
    return list;
  }

  function waitFor(key: string, max: number, at: number): number {
    const list = recent(key, at);
    if (list.length < max) return 0;
    return (list[list.length - max] ?? at) + windowMs - at;
  }

  function bound<V>(map: Map<string, V>): void {
    while (map.size > maxKeys) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
  }

  return {
    attempt(ip, username) {
      const at = now();
      const name = username.toLowerCase();
      const address = addressKey(ip);
      const checks: [string, number][] = [[`ip:${address}`, limit], [`pair:${name}|${address}`, limit]];
      const knownAt = known.get(`${name}|${address}`);
      const exempt = knownAt !== undefined && knownAt > at - knownForMs;
      const accountKey = `user:${name}`;
      if (!exempt) checks.push([accountKey, limit * ACCOUNT_FACTOR]);
      const waitMs = Math.max(...checks.map(([key, max]) => waitFor(key, max, at)));
      if (waitMs > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      // Counted now, before anything is awaited: a parallel attempt sees this one.
      const keys = [...checks.map(([key]) => key), ...(exempt ? [accountKey] : [])];
      for (const key of keys) {
        const list = recent(key, at);
        list.push(at);
        if (list.length > limit * ACCOUNT_FACTOR) list.shift();
        attempts.delete(key);
        attempts.set(key, list);
      }
      bound(attempts);
      return { allowed: true, ticket: { at, keys, username: name, address } };
    },
    succeeded(ticket) {
      for (const key of ticket.keys) {
        const list = attempts.get(key);
        const i = list?.lastIndexOf(ticket.at) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
      }
      const k = `${ticket.username}|${ticket.address}`;
      known.delete(k);
      known.set(k, now());
      bound(known);
    },
  };
}

/** The unit a client holds: an IPv4 address, or an IPv6 /64. */
function addressKey(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
