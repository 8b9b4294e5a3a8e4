import { isIPv4, isIPv6 } from 'node:net';
import type { Analyzer, Findings } from '../analyzer.ts';
import type { ResolveFn } from '../dns-resolver.ts';

export interface DnsblZone {
  readonly zone: string;
  readonly weight: number;
  readonly codes?: Readonly<Record<string, { readonly label: string; readonly weight?: number | undefined }>> | undefined;
}

/**
 * DNS blocklists for the client address: one A query per zone (`9.113.0.203.zone` for
 * 203.0.113.9, nibbles for IPv6), all at once. A listing becomes an extra score
 * `dnsbl.<zone>` with its weight, for the rules to add up. A zone that fails to answer counts
 * as not listed (a DNSBL is a score, never a reason to refuse mail); the fallback after the
 * analyzer's time-out is the same.
 */
export function dnsblAnalyzer(zones: readonly DnsblZone[], resolve: ResolveFn, timeoutMs: number): Analyzer {
  return {
    name: 'dnsbl',
    timeoutMs,
    fallback: { policy: 'pass' },
    async run(input): Promise<Findings> {
      const reversed = reverseIp(input.clientIp);
      if (reversed === undefined) return {};
      const listed = await Promise.all(zones.map((z) => lookUp(z, `${reversed}.${z.zone}`, resolve, `dnsbl.${z.zone}`, '')));
      return { extraScores: listed.flatMap((l) => (l ? [l] : [])) };
    },
  };
}

/** One blocklist query: its listing as an extra score `id` (detail prefixed by `what`), or undefined. Shared with `uribl`. */
export async function lookUp(z: DnsblZone, name: string, resolve: ResolveFn, id: string, what: string): Promise<{ id: string; score: number; detail: string } | undefined> {
  let answers: string[];
  try {
    answers = (await resolve(name, 'A')) as string[];
  } catch {
    return undefined; // NXDOMAIN is "not listed"; a failure is treated the same, by policy
  }
  // Only 127.0.0.0/8 is a listing; anything else (127.255.255.x "query refused" codes are in
  // it too, so they need `codes`) is a misconfigured or hijacked zone.
  const codes = answers.filter((a) => a.startsWith('127.'));
  const meanings = z.codes ? codes.flatMap((c) => (Object.hasOwn(z.codes!, c) ? [{ code: c, ...z.codes![c]! }] : [])) : codes.map((c) => ({ code: c, label: 'listed', weight: undefined }));
  if (meanings.length === 0) return undefined;
  const score = Math.max(...meanings.map((m) => m.weight ?? z.weight));
  return { id, score, detail: what + meanings.map((m) => `${m.code} ${m.label}`).join(', ') };
}

/** The DNSBL query prefix of an address; undefined for something that is not one. */
export function reverseIp(ip: string): string | undefined {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(v4)) return v4.split('.').reverse().join('.');
  if (!isIPv6(ip)) return undefined;
  const [head = '', tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  if (t.some((g) => g.includes('.')) || h.some((g) => g.includes('.'))) return undefined; // embedded IPv4 other than ::ffff:
  const full = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('');
  return full.split('').reverse().join('.');
}
