import type { CompiledRules } from './compile.ts';
import type { EnvelopeDecision, Reason } from './facts.ts';
import type { RecipientVerification, VerifiedDomain } from './schema.ts';
import { compileAddressList, normalizeDomain, splitAddress, type AddressMatcher } from './address-match.ts';
import { hasWildcard } from './glob.ts';
import { clip } from './text.ts';

/**
 * The pure half of recipient verification at RCPT TO (the scanner does the lookups): which
 * recipients are looked up, under which address, and the replies. See docs/scanner.md,
 * "Recipient verification".
 */

/** Local parts every domain must accept (RFC 5321 §4.5.1 postmaster; RFC 2142 abuse): never looked up. */
export const ALWAYS_ACCEPTED = new Set(['postmaster', 'abuse']);

/** A local part asking the next server to relay on (`user%other.example`, `other.example!user`), unless the admin allows it. */
export function checkLocalPartRouting(v: RecipientVerification, rcpt: string): EnvelopeDecision {
  if (v.allowLocalPartRouting) return { ok: true, allowed: false };
  const at = rcpt.lastIndexOf('@');
  const local = at === -1 ? rcpt : rcpt.slice(0, at);
  // A quoted local part is one string: `"a%b"@x` still routes on a server that honours `%`.
  if (!/[%!]/.test(local)) return { ok: true, allowed: false };
  return {
    ok: false, code: 501, enhanced: '5.1.3',
    text: `<${clip(rcpt)}>: Recipient address rejected: source routing with % or ! is not accepted`,
    reason: { kind: 'recipient-list', rule: 'recipientVerification.allowLocalPartRouting', match: clip(rcpt), action: 'reject' },
  };
}

/** The address a bare `RCPT TO:<postmaster>` (RFC 5321 §4.1.1.3) stands for: postmaster at the first accepted domain without wildcards. */
export function postmasterAddress(c: CompiledRules): string | undefined {
  const domain = c.rules.acceptedDomains.find((d) => !hasWildcard(d));
  return domain === undefined ? undefined : `postmaster@${normalizeDomain(domain)}`;
}

/** What to look up for a recipient: its domain's verification entry and the address without its tag; undefined: not verified. */
export interface VerificationTarget {
  readonly entry: VerifiedDomain;
  /** The store entry a static or LDAP source reads. */
  readonly store: string;
  /** Lower-case `local@domain`, the tag cut off. */
  readonly address: string;
}

export function verificationTarget(c: CompiledRules, rcpt: string): VerificationTarget | undefined {
  const { local, domain } = splitAddress(rcpt);
  const entry = c.verifiedDomain(domain);
  if (!entry) return undefined;
  const bare = stripTag(local, c.rules.recipientVerification.tagSeparators);
  if (ALWAYS_ACCEPTED.has(bare)) return undefined;
  return { entry, store: entry.store ?? normalizeDomain(entry.domain).replace(/^\*\./, ''), address: `${bare}@${domain}` };
}

/** `user+news` → `user` (cut at the first separator, as Postfix's recipient_delimiter); a local part that starts with one is kept. */
export function stripTag(local: string, separators: string): string {
  if (separators === '') return local;
  for (let i = 1; i < local.length; i++) if (separators.includes(local[i]!)) return local.slice(0, i);
  return local;
}

/** The reply for a recipient a source does not know. */
export function unknownRecipient(rcpt: string, source: string, looked: string): Extract<EnvelopeDecision, { ok: false }> {
  return {
    ok: false, code: 550, enhanced: '5.1.1',
    text: `<${clip(rcpt)}>: Recipient address rejected: User unknown`,
    reason: { kind: 'recipient-list', rule: `recipientVerification.${source}`, match: clip(looked), action: 'reject' },
  };
}

/** The reply when a source cannot answer and `onUnavailable` is `defer`. */
export function verificationUnavailable(rcpt: string, source: string, why: string): Extract<EnvelopeDecision, { ok: false }> {
  const reason: Reason = { kind: 'recipient-list', rule: `recipientVerification.${source}`, match: clip(why) };
  return { ok: false, code: 451, enhanced: '4.4.3', text: `<${clip(rcpt)}>: Recipient address verification unavailable, try again later`, reason };
}

/** A static recipient list: addresses and `*@domain` patterns (any pattern `compileAddressList` takes). */
export function compileStaticList(entries: readonly string[]): AddressMatcher {
  return compileAddressList(entries);
}

/**
 * Directory harvesting: unknown recipients counted per client address in a sliding window. Pure
 * state on a clock the caller passes; bounded (the oldest address goes first).
 */
export class HarvestCounter {
  private readonly hits = new Map<string, number[]>();
  private readonly maxTracked: number;
  constructor(maxTracked = 10_000) {
    this.maxTracked = maxTracked;
  }

  /** Count one unknown recipient; returns how many this address has in the window, this one included. */
  record(ip: string, now: number, windowMs: number): number {
    const recent = this.recent(ip, now, windowMs);
    recent.push(now);
    this.hits.delete(ip);
    this.hits.set(ip, recent);
    if (this.hits.size > this.maxTracked) this.hits.delete(this.hits.keys().next().value!);
    return recent.length;
  }

  count(ip: string, now: number, windowMs: number): number {
    return this.hits.has(ip) ? this.recent(ip, now, windowMs).length : 0;
  }

  private recent(ip: string, now: number, windowMs: number): number[] {
    const kept = (this.hits.get(ip) ?? []).filter((t) => now - t < windowMs);
    if (kept.length === 0) this.hits.delete(ip);
    return kept.slice(-100_000);
  }
}
