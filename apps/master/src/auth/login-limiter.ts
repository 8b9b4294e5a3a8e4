/**
 * Failed-login throttling, pure and clock-injected: at most `limit` failed attempts per client
 * address and per user name in any `windowMs`. Counting per address stops one client guessing
 * many accounts; counting per name stops many clients (a botnet) guessing one account. The
 * price of the second: an attacker can keep one account's logins refused, one window at a time.
 */

export interface LoginLimiter {
  /** May this address try this name now? If not, how many seconds until it may. */
  check(ip: string, username: string): { allowed: true } | { allowed: false; retryAfterSeconds: number };
  /** Record a failed attempt. */
  fail(ip: string, username: string): void;
}

export interface LoginLimiterOptions {
  readonly limit: number;
  readonly windowMs?: number;
  readonly now: () => number;
  /** Bound on tracked keys (attackers choose user names); the oldest are dropped first. */
  readonly maxKeys?: number;
}

export function createLoginLimiter(options: LoginLimiterOptions): LoginLimiter {
  const { limit, now } = options;
  const windowMs = options.windowMs ?? 60_000;
  const maxKeys = options.maxKeys ?? 100_000;
  /** key → timestamps of recent failures, oldest first, at most `limit` kept. */
  const failures = new Map<string, number[]>();

  function recent(key: string, at: number): number[] {
    const list = failures.get(key);
    if (!list) return [];
    while (list.length > 0 && (list[0] ?? 0) <= at - windowMs) list.shift();
    if (list.length === 0) failures.delete(key);
    return list;
  }

  function waitFor(key: string, at: number): number {
    const list = recent(key, at);
    if (list.length < limit) return 0;
    return (list[0] ?? at) + windowMs - at;
  }

  return {
    check(ip, username) {
      const at = now();
      const waitMs = Math.max(waitFor(ipKey(ip), at), waitFor(nameKey(username), at));
      return waitMs <= 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    },
    fail(ip, username) {
      const at = now();
      for (const key of [ipKey(ip), nameKey(username)]) {
        const list = recent(key, at);
        list.push(at);
        if (list.length > limit) list.shift();
        failures.delete(key);
        failures.set(key, list);
      }
      while (failures.size > maxKeys) {
        const oldest = failures.keys().next().value;
        if (oldest === undefined) break;
        failures.delete(oldest);
      }
    },
  };
}

const ipKey = (ip: string): string => `ip:${ip}`;
const nameKey = (username: string): string => `user:${username.toLowerCase()}`;
