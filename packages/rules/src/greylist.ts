import { parseIp } from './ip-match.ts';
import type { Greylisting } from './schema.ts';

/**
 * Greylisting, decided from data alone: the caller (the master for the cluster, a scanner on
 * its own when the master is out of reach) keeps one `GreylistEntry` per triplet and passes
 * the clock in. Times are milliseconds since the epoch.
 */

/** What a greylist remembers a delivery attempt by. */
export interface GreylistTriplet {
  /** The client's network: `192.0.2.0/24`, `2001:db8:0:1::/64` style (no `::` compression). */
  readonly network: string;
  /** The envelope sender, lower-cased; `<>` for the null sender. */
  readonly sender: string;
  /** The recipient, lower-cased. */
  readonly recipient: string;
}

export interface GreylistEntry {
  readonly firstSeen: number;
  /** When the triplet first passed (its delay served), or null while it is still deferred. */
  readonly passedAt: number | null;
  /** After this the entry is forgotten (a deferred one starts over, a passed one is greylisted anew). */
  readonly expiresAt: number;
}

export interface GreylistDecision {
  readonly pass: boolean;
  /** The entry to store in place of the old one. */
  readonly entry: GreylistEntry;
  /** For a deferral: seconds until a retry would pass (at least 1). */
  readonly retryInSeconds: number;
}

export type GreylistTimes = Pick<Greylisting, 'delaySeconds' | 'expirySeconds' | 'passSeconds'>;


/** The triplet of an attempt, or undefined when the client address does not parse (never greylisted). */
export function greylistTriplet(settings: Pick<Greylisting, 'ipv4Prefix' | 'ipv6Prefix'>, clientIp: string, sender: string, recipient: string): GreylistTriplet | undefined {
  const value = parseIp(clientIp);
  if (value === undefined) return undefined;
  const network = (value >> 32n) === 0xffffn ? v4Network(value & 0xffffffffn, settings.ipv4Prefix) : v6Network(value, settings.ipv6Prefix);
  // Clipped to the wire's limit (an address past RFC 5321's 256 octets is abuse anyway), so a
  // hostile RCPT can never produce a greylist.check the master would refuse as invalid.
  return { network, sender: sender === '' ? '<>' : clipAddress(sender), recipient: clipAddress(recipient) };
}

/** The longest sender or recipient a triplet keeps (the `greylist.check` frame's limit). */
export const GREYLIST_MAX_ADDRESS = 320;

function clipAddress(address: string): string {
  return address.toLowerCase().slice(0, GREYLIST_MAX_ADDRESS);
}

/** One string per triplet, for maps. */
export function greylistKey(t: GreylistTriplet): string {
  return `${t.network} ${t.sender} ${t.recipient}`;
}

/**
 * The state machine: unknown (or expired) → deferred, first seen now; deferred and retried
 * before the delay → still deferred (the first-seen time is kept, so retrying faster does not
 * help or hurt); retried after the delay → passed, known-good for `passSeconds`; passed →
 * passes again and is renewed.
 */
export function decideGreylist(times: GreylistTimes, entry: GreylistEntry | undefined, now: number): GreylistDecision {
  const delayMs = times.delaySeconds * 1000;
  if (entry === undefined || entry.expiresAt <= now) {
    return { pass: false, entry: { firstSeen: now, passedAt: null, expiresAt: now + times.expirySeconds * 1000 }, retryInSeconds: times.delaySeconds };
  }
  if (entry.passedAt === null && now - entry.firstSeen < delayMs) {
    return { pass: false, entry, retryInSeconds: Math.max(1, Math.ceil((entry.firstSeen + delayMs - now) / 1000)) };
  }
  return { pass: true, entry: { firstSeen: entry.firstSeen, passedAt: entry.passedAt ?? now, expiresAt: now + times.passSeconds * 1000 }, retryInSeconds: 0 };
}

/** The reply text of a deferral (451 4.7.1). */
export function greylistText(recipient: string, retryInSeconds: number): string {
  const rcpt = recipient.replace(/[^\x21-\x7e]/g, '').slice(0, 200);
  return `<${rcpt}>: Greylisted: the first delivery attempt from your network and sender to this recipient is deferred, please retry in ${retryInSeconds} seconds`;
}

function v4Network(v4: bigint, prefix: number): string {
  const mask = prefix === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - prefix)) - 1n);
  const n = v4 & mask;
  return `${[24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.')}/${prefix}`;
}

function v6Network(v6: bigint, prefix: number): string {
  const all = (1n << 128n) - 1n;
  const mask = prefix === 0 ? 0n : all ^ ((1n << BigInt(128 - prefix)) - 1n);
  const n = v6 & mask;
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  return `${groups.join(':')}/${prefix}`;
}

