import { isIPv4, isIPv6 } from 'node:net';

/** `::ffff:1.2.3.4` → `1.2.3.4`, so an IPv4 client is written as TCP4 and matches rules by its IPv4. */
export function normaliseAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/**
 * The PROXY protocol v1 line (haproxy doc/proxy-protocol.txt), the only version smtp-server
 * accepts. Mixed or unknown families give `PROXY UNKNOWN`, which the spec allows.
 */
export function proxyV1(src: string, dst: string, srcPort: number, dstPort: number): string {
  const s = normaliseAddress(src);
  const d = normaliseAddress(dst);
  if (isIPv4(s) && isIPv4(d)) return `PROXY TCP4 ${s} ${d} ${srcPort} ${dstPort}\r\n`;
  if (isIPv6(s) && isIPv6(d)) return `PROXY TCP6 ${s} ${d} ${srcPort} ${dstPort}\r\n`;
  return 'PROXY UNKNOWN\r\n';
}
