import { isIP } from 'node:net';

/**
 * Every address is held as one 128-bit IPv6 number, IPv4 as its IPv4-mapped form
 * (`::ffff:a.b.c.d`). That one choice makes `192.0.2.1` and `::ffff:192.0.2.1` the same
 * address, so a dual-stack socket's mapped client matches IPv4 entries and vice versa.
 */
const V4_MAPPED = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

export interface Cidr {
  readonly network: bigint;
  /** Prefix length in the 128-bit space (an IPv4 `/24` is `/120`). */
  readonly prefix: number;
}

/** Returns the entry's address that matched the client, or undefined. */
export type IpMatcher = (ip: string) => string | undefined;

/** Parse an address as it comes from a socket; a zone index (`fe80::1%eth0`) is dropped. */
export function parseIp(text: string): bigint | undefined {
  const address = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const kind = isIP(address);
  if (kind === 4) return V4_MAPPED | v4ToBigint(address);
  if (kind === 6) return v6ToBigint(address);
  return undefined;
}

/** Parse a list entry: an address or `address/prefix`; a string is the reason it is bad. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  if (address.includes('%')) return 'a zone index (%) is not allowed in a list entry';
  const kind = isIP(address);
  if (kind === 0) return `"${address}" is not an IPv4 or IPv6 address`;
  const width = kind === 4 ? 32 : 128;
  let prefix = width;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits) || Number(digits) > width) return `prefix must be 0 to ${width}`;
    prefix = Number(digits);
  }
  const value = parseIp(address) ?? 0n;
  const bits = kind === 4 ? prefix + 96 : prefix;
  // Host bits set (`192.0.2.7/24`) are masked off rather than refused, as most firewalls do.
  return { network: value & maskOf(bits), prefix: bits };
}

/** Compile a validated list once; lookup is one hash probe per distinct prefix length. */
export function compileIpList(entries: readonly string[]): IpMatcher {
  const byPrefix = new Map<number, Map<bigint, string>>();
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (typeof cidr === 'string') throw new Error(`invalid IP list entry "${entry}": ${cidr}`);
    let networks = byPrefix.get(cidr.prefix);
    if (networks === undefined) byPrefix.set(cidr.prefix, (networks = new Map()));
    if (!networks.has(cidr.network)) networks.set(cidr.network, entry);
  }
  // Most specific first, so a reason names the narrowest entry that matched.
  const prefixes = [...byPrefix].sort(([a], [b]) => b - a).map(([prefix, networks]) => ({ mask: maskOf(prefix), networks }));
  return (ip) => {
    if (prefixes.length === 0) return undefined;
    const value = parseIp(ip);
    if (value === undefined) return undefined;
    for (const { mask, networks } of prefixes) {
      const hit = networks.get(value & mask);
      if (hit !== undefined) return hit;
    }
    return undefined;
  };
}

function maskOf(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL_ONES << BigInt(128 - prefix)) & ALL_ONES;
}

function v4ToBigint(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Only called on text that `isIP` accepted, so the shape is already known to be right. */
function v6ToBigint(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right].reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function groupsOf(part: string): number[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [Number.parseInt(group, 16)];
    const v4 = Number(v4ToBigint(group));
    return [v4 >>> 16, v4 & 0xffff];
  });
}
