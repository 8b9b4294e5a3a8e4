import { isIPv4, isIPv6 } from 'node:net';
import type { ResolveFn } from '../analyzers/dns-resolver.ts';
import { reverseIp } from '../analyzers/dnsbl/dnsbl-analyzer.ts';

/** PTR names tried at most, as Postfix does (a client with more is judged on its first ten). */
const MAX_NAMES = 10;

/**
 * The client's forward-confirmed reverse DNS name (FCrDNS), as a border MTA finds it: the PTR
 * names of its address, the first one whose A (or AAAA) records include that address again.
 * Undefined when there is none: no PTR, a name that does not point back (anyone can publish a
 * PTR claiming any name), or a DNS failure. Loopback clients (this machine: a local MTA, the
 * balancer's health checks) are not looked up. Never throws.
 */
export async function confirmedHostname(ip: string, resolve: ResolveFn): Promise<string | undefined> {
  if (isLoopback(ip)) return undefined;
  const reversed = reverseIp(ip);
  if (!reversed) return undefined;
  const v4 = isIPv4(ip);
  let names: string[];
  try {
    names = ((await resolve(`${reversed}.${v4 ? 'in-addr' : 'ip6'}.arpa`, 'PTR')) as string[]).map((n) => n.toLowerCase().replace(/\.$/, ''));
  } catch {
    return undefined;
  }
  const candidates = [...new Set(names)].filter(isHostname).slice(0, MAX_NAMES);
  const confirmed = await Promise.all(candidates.map(async (name) => {
    try {
      const addresses = (await resolve(name, v4 ? 'A' : 'AAAA')) as string[];
      return addresses.some((a) => sameAddress(a, ip));
    } catch {
      return false;
    }
  }));
  return candidates.find((_, i) => confirmed[i]);
}

function isLoopback(ip: string): boolean {
  return (isIPv4(ip) && ip.startsWith('127.')) || (isIPv6(ip) && expand(ip) === expand('::1'));
}

/** A name fit for a Received line: letters, digits, hyphens, underscores, dots; not an address. */
function isHostname(name: string): boolean {
  return name.length > 0 && name.length <= 253 && /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name) && !isIPv4(name);
}

function sameAddress(a: string, b: string): boolean {
  if (isIPv4(a) || isIPv4(b)) return a === b;
  return isIPv6(a) && isIPv6(b) && expand(a) === expand(b);
}

/** An IPv6 address with every group written out, for comparison. */
function expand(ip: string): string {
  return reverseIp(ip) ?? ip;
}
