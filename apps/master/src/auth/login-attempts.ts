import { isIPv6 } from 'node:net';

/**
 * The login limiter's decision, pure: given each key's recent attempts, may this attempt go
 * ahead, and what does each key hold once it is counted. The in-memory limiter
 * (login-limiter.ts) and the shared one (shared-login-limiter.ts, through the database) both
 * decide here, so they count alike.
 *
 * Three counts, each over any `windowMs`:
 * - per client address (IPv6: per /64, what one client holds), `limit`: one client guessing
 *   many accounts is stopped;
 * - per account and address, `limit`: one client guessing one account;
 * - per account from everywhere, `limit × ACCOUNT_FACTOR`: many clients (a botnet) guessing
 *   one account. An address that has signed in to that account before is exempt from this
 *   one, so a flood from elsewhere cannot lock the account's owner out.
 */

/** The account-wide count allows this many times the per-address limit. */
export const ACCOUNT_FACTOR = 10;

/** The keys one attempt is counted under; `scope` keeps limiters sharing one table apart. */
export interface AttemptPlan {
  readonly account: string;
  readonly address: string;
  readonly ipKey: string;
  readonly pairKey: string;
  readonly accountKey: string;
  /** The key of "this address signed in to this account". */
  readonly knownKey: string;
}

export function planAttempt(scope: string, ip: string, username: string): AttemptPlan {
  const account = username.toLowerCase();
  const address = addressKey(ip);
  return {
    account,
    address,
    ipKey: `${scope}:ip:${address}`,
    pairKey: `${scope}:pair:${account}|${address}`,
    accountKey: `${scope}:user:${account}`,
    knownKey: `${scope}:${account}|${address}`,
  };
}

export interface Limits {
  readonly limit: number;
  readonly windowMs: number;
}

export type Decision =
  | { readonly allowed: true; readonly counted: ReadonlyMap<string, readonly number[]> }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * Decide an attempt at `at` from each key's stored attempts (`stored(key)`, oldest first, old
 * ones included): refused, with the wait, when any checked count is full; else allowed, with
 * every key's list once this attempt is in it (old ones dropped, at most limit × ACCOUNT_FACTOR
 * kept). `exempt`: the address signed in to the account recently, so the account-wide count is
 * not checked (the attempt is still counted there).
 */
export function decideAttempt(plan: AttemptPlan, exempt: boolean, stored: (key: string) => readonly number[], at: number, limits: Limits): Decision {
  const { limit, windowMs } = limits;
  const recent = (key: string) => stored(key).filter((t) => t > at - windowMs);
  const checks: [string, number][] = [[plan.ipKey, limit], [plan.pairKey, limit]];
  if (!exempt) checks.push([plan.accountKey, limit * ACCOUNT_FACTOR]);
  const waitMs = Math.max(...checks.map(([key, max]) => {
    const list = recent(key);
    return list.length < max ? 0 : (list[list.length - max] ?? at) + windowMs - at;
  }));
  if (waitMs > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  const counted = new Map<string, readonly number[]>();
  for (const key of [plan.ipKey, plan.pairKey, plan.accountKey]) counted.set(key, [...recent(key), at].slice(-limit * ACCOUNT_FACTOR));
  return { allowed: true, counted };
}

/** `list` without one attempt made at `at` (a right password gives its attempt back). */
export function givenBack(list: readonly number[], at: number): number[] {
  const i = list.lastIndexOf(at);
  return i < 0 ? [...list] : [...list.slice(0, i), ...list.slice(i + 1)];
}

/** The unit a client holds: an IPv4 address, or an IPv6 /64. */
export function addressKey(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
