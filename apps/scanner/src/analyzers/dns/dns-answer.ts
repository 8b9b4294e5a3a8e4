import type { Answer, DecodedPacket } from 'dns-packet';

/**
 * What one DNS response says about (name, type), in the shapes node's `dns.resolve` gives (what
 * mailauth expects), with the time it may be cached: the smallest TTL of the records used
 * (CNAMEs included); for NXDOMAIN/NODATA the negative TTL of RFC 2308 (the SOA in the authority
 * section: the smaller of its TTL and its MINIMUM), undefined when the response has no SOA.
 */
export type DnsOutcome =
  | { readonly kind: 'answer'; readonly records: unknown[]; readonly ttl: number }
  | { readonly kind: 'negative'; readonly code: 'ENOTFOUND' | 'ENODATA'; readonly ttl: number | undefined }
  | { readonly kind: 'failure'; readonly code: string };

/** Longest CNAME chain followed inside one response. */
const MAX_CHAIN = 8;

const FAILURES: Record<string, string> = { SERVFAIL: 'ESERVFAIL', REFUSED: 'EREFUSED', FORMERR: 'EFORMERR', NOTIMP: 'ENOTIMP' };

export function interpretResponse(p: DecodedPacket, name: string, type: string): DnsOutcome {
  const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
  if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') return { kind: 'failure', code: FAILURES[rcode] ?? 'EBADRESP' };
  const answers = p.answers ?? [];
  let target = canonical(name);
  let ttl = Infinity;
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const found = answers.filter((a) => a.type === type && canonical(a.name) === target);
    if (found.length > 0) {
      for (const a of found) ttl = Math.min(ttl, (a as { ttl?: number }).ttl ?? 0);
      return { kind: 'answer', records: found.map(shape), ttl };
    }
    const alias = answers.find((a) => a.type === 'CNAME' && canonical(a.name) === target);
    if (!alias) break;
    ttl = Math.min(ttl, (alias as { ttl?: number }).ttl ?? 0);
    target = canonical(String((alias as { data?: unknown }).data));
  }
  const soa = (p.authorities ?? []).find((a) => a.type === 'SOA');
  const negativeTtl = soa && soa.type === 'SOA' ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : undefined;
  return { kind: 'negative', code: rcode === 'NXDOMAIN' ? 'ENOTFOUND' : 'ENODATA', ttl: negativeTtl };
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** One record as node's resolver gives it. */
function shape(a: Answer): unknown {
  switch (a.type) {
    case 'TXT': {
      const data = a.data as unknown as (Buffer | string)[] | Buffer | string;
      return (Array.isArray(data) ? data : [data]).map((chunk) => (typeof chunk === 'string' ? chunk : chunk.toString('utf8')));
    }
    case 'MX':
      return { exchange: a.data.exchange, priority: a.data.preference };
    default:
      return (a as { data?: unknown }).data;
  }
}
