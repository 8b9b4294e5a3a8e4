import { compileDomainList } from './address-match.ts';
import type { Route, RouteHost, Routing } from './schema.ts';

/**
 * Per-domain routing, pure: which route a recipient takes, and in which order its servers are
 * tried. The scanner's relay (apps/scanner/src/relay/router.ts) does the I/O.
 */

/** The route of a recipient's domain, or undefined: the scanner's own `relay` (today's single downstream). */
export function compileRouting(routing: Routing): (domain: string) => Route | undefined {
  const routes = routing.domains;
  if (routes.length === 0) return () => undefined;
  const match = compileDomainList(routes.map((r) => r.domain));
  return (domain) => {
    const pattern = match(domain);
    return pattern === undefined ? undefined : routes.find((r) => r.domain === pattern);
  };
}

/** One server to try: a host (name or address) and its port. */
export interface RouteTarget {
  readonly host: string;
  readonly port: number;
  readonly priority: number;
}

/**
 * The servers in the order to try them: by priority, lowest first; hosts of equal priority in
 * a random order drawn per attempt, so they share the mail (as MX records of equal preference
 * do, RFC 5321 5.1).
 */
export function orderTargets(hosts: readonly Pick<RouteHost, 'host' | 'priority' | 'port'>[], defaultPort: number, random: () => number = Math.random): RouteTarget[] {
  const drawn = hosts.map((h) => ({ host: h.host, port: h.port ?? defaultPort, priority: h.priority, draw: random() }));
  drawn.sort((a, b) => a.priority - b.priority || a.draw - b.draw);
  return drawn.map(({ host, port, priority }) => ({ host, port, priority }));
}

/** What the gateway itself answers on: a server among these would send the mail back to us. */
export interface SelfIdentity {
  /** Our host names (`smtp.hostname`), lower-case. */
  readonly names: ReadonlySet<string>;
  /** Our IP addresses (the listening address, or every interface's when listening on all). */
  readonly addresses: ReadonlySet<string>;
  /** The ports we take SMTP on (ours, the balancer's virtual address). */
  readonly ports: ReadonlySet<number>;
}

/**
 * Whether a server is this gateway: its name is ours, or one of its addresses is, on a port we
 * take SMTP on. The port matters: a mail server on the same machine on another port is not a loop.
 */
export function isLoop(target: { host: string; port: number }, resolved: readonly string[], self: SelfIdentity): boolean {
  if (!self.ports.has(target.port)) return false;
  if (self.names.has(target.host.toLowerCase().replace(/\.$/, ''))) return true;
  return resolved.some((a) => self.addresses.has(normalizeIp(a)));
}

/** IPv4-mapped IPv6 as IPv4, lower-case otherwise: the form addresses are compared in. */
export function normalizeIp(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
