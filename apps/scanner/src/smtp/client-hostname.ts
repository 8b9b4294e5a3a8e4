import { isIPv4 } from 'node:net';
import { compileIpList, parseIp } from '@moat/rules';
import type { ResolveFn } from '../analyzers/dns-resolver.ts';
import { reverseIp } from '../analyzers/dnsbl/dnsbl-analyzer.ts';

/** PTR names tried at most, as Postfix does (a client with more is judged on its first ten). */
const MAX_NAMES = 10;
/** Loopback, IPv4 and IPv6. */
const isLoopback = compileIpList(['127.0.0.0/8', '::1']);

/**
 * The client's forward-confirmed reverse DNS name (FCrDNS), as a border MTA finds it: the PTR
 * names of its address, the first one whose A (or AAAA) records include that address again.
 * Undefined when there is none: no PTR, a name that does not point back (anyone can publish a
 * PTR claiming any name), or a DNS failure. Loopback clients (this machine: a local MTA, the
 * balancer's health checks) are not looked up. Never throws.
 */
export async function confirmedHostname(ip: string, resolve: ResolveFn): Promise<string | undefined> {
  if (isLoopback(ip) !== undefined) return undefined;
  const reversed = reverseIp(ip);
  if (!reversed) return undefined;
  // One number for an address however it is written (2001:db8::21 and 2001:0db8:0:0:0:0:0:21).
  const client = parseIp(ip);
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
      return addresses.some((a) => parseIp(a) === client);
    } catch {
      return false;
    }
  }));
  return candidates.find((_, i) => confirmed[i]);
}

/** A name fit for a Received line: letters, digits, hyphens, underscores, dots; not an address. */
function isHostname(name: string): boolean {
  return name.length > 0 && name.length <= 253 && /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name) && !isIPv4(name);
}
