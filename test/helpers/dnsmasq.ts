import { writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { findBinary, startDaemon, type Daemon } from '@moat/engines';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';
import { sleep } from './wait.ts';
import { engineSkip } from './engines.ts';

export const DNSMASQ = findBinary('dnsmasq');
export const DNSMASQ_SKIP = engineSkip('dnsmasq', 'dnsmasq');

export interface DnsRecords {
  /** name → TXT strings (a long value is split into 255-byte strings). */
  readonly txt?: Record<string, string>;
  /** name → IPv4 address, served both ways: the A record and the matching PTR (dnsmasq's `host-record`). */
  readonly a?: Record<string, string>;
  /** reverse name (`4.3.2.1.in-addr.arpa`) → the name its PTR claims, with no record back. */
  readonly ptr?: Record<string, string>;
  /** name → its MX records. */
  readonly mx?: Record<string, readonly { readonly exchange: string; readonly priority: number }[]>;
  /** TTL of every record served (dnsmasq's `local-ttl`; its own default, 0, would make answers uncacheable). Default 300. */
  readonly ttl?: number;
}

export interface Dnsmasq {
  readonly port: number;
  /** For the scanner's `analyzers.dns.servers`. */
  readonly server: string;
  stop(): Promise<void>;
}

/**
 * A private dnsmasq on 127.0.0.1:<free port> serving only the given records: `local=/#/`
 * answers NXDOMAIN for every other name and nothing is ever forwarded; no /etc/hosts.
 * Ready when it answers; stopped by its pid.
 */
export async function startDnsmasq(records: DnsRecords): Promise<Dnsmasq> {
  if (!DNSMASQ) throw new Error(String(DNSMASQ_SKIP));
  const tmp = tempDir('dnsmasq');
  const port = await freePort();
  const quote = (v: string) => (v.match(/.{1,255}/g) ?? ['']).map((p) => `"${p.replace(/"/g, '\\"')}"`).join(',');
  const conf = join(tmp.path, 'dnsmasq.conf');
  writeFileSync(
    conf,
    [
      `port=${port}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-poll',
      'local=/#/',
      `local-ttl=${records.ttl ?? 300}`,
      `pid-file=${join(tmp.path, 'dnsmasq.pid')}`,
      `log-facility=${join(tmp.path, 'dnsmasq.log')}`,
      'txt-record=ready.moat.test,"yes"',
      ...Object.entries(records.txt ?? {}).map(([name, value]) => `txt-record=${name},${quote(value)}`),
      ...Object.entries(records.a ?? {}).map(([name, ip]) => `host-record=${name},${ip}`),
      ...Object.entries(records.ptr ?? {}).map(([reverse, name]) => `ptr-record=${reverse},${name}`),
      ...Object.entries(records.mx ?? {}).flatMap(([name, list]) => list.map((r) => `mx-host=${name},${r.exchange},${r.priority}`)),
      '',
    ].join('\n'),
  );
  const daemon: Daemon = startDaemon(DNSMASQ, ['--keep-in-foreground', `--conf-file=${conf}`]);
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await resolver.resolveTxt('ready.moat.test');
      break;
    } catch {
      if (daemon.child.exitCode !== null || Date.now() > deadline) {
        await daemon.stop();
        tmp.cleanup();
        throw new Error(`dnsmasq did not start: ${daemon.output()}`);
      }
      await sleep(20);
    }
  }
  return {
    port,
    server: `127.0.0.1:${port}`,
    async stop() {
      await daemon.stop();
      tmp.cleanup();
    },
  };
}
