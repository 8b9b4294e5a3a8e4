import { networkInterfaces } from 'node:os';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { normalizeIp, type SelfIdentity } from '@moat/rules';
import type { ScannerConfig } from '../config.ts';

/**
 * The DNS a route needs: MX records (a route with `mx: true`) and a server's addresses (loop
 * detection), asked of `analyzers.dns.servers` when set (else the system's), bounded by its time-out.
 */
export function routeDns(config: ScannerConfig): { resolveMx: (domain: string) => Promise<{ exchange: string; priority: number }[]>; resolveAddresses: (host: string) => Promise<string[]> } {
  const dns = config.analyzers.dns;
  const resolver = new Resolver({ timeout: dns.timeoutMs, tries: dns.tries });
  if (dns.servers.length > 0) resolver.setServers(dns.servers);
  return {
    resolveMx: (domain) => resolver.resolveMx(domain),
    async resolveAddresses(host) {
      const [v4, v6] = await Promise.all([resolver.resolve4(host).catch(() => []), resolver.resolve6(host).catch(() => [])]);
      return [...v4, ...v6];
    },
  };
}

/**
 * What this scanner answers SMTP on: its host name, its listening address (every interface's when
 * it listens on all) and the embedded balancer's virtual address, on its SMTP port and the balancer's.
 */
export function selfIdentity(config: ScannerConfig, smtpPort: number | undefined): SelfIdentity {
  const addresses = new Set<string>();
  const ports = new Set<number>([smtpPort ?? config.smtp.listen.port]);
  const listen = config.smtp.listen.host;
  if (listen === '0.0.0.0' || listen === '::' || !isIP(listen)) {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) addresses.add(normalizeIp(i.address));
  } else addresses.add(normalizeIp(listen));
  if (config.balancer) {
    addresses.add(normalizeIp(config.balancer.listen.host));
    if (config.balancer.listen.port > 0) ports.add(config.balancer.listen.port);
  }
  return { names: new Set([config.smtp.hostname.toLowerCase().replace(/\.$/, '')]), addresses, ports };
}
