import { startClamd } from '../../helpers/clamd.ts';
import { startDnsmasq } from '../../helpers/dnsmasq.ts';
import { RSPAMD, startRspamd } from '../../helpers/rspamd.ts';

/** The scanner's analyzer keys the benchmark can turn on, in the scanner's own order. */
export const ANALYZER_KEYS = ['clamav', 'rspamd', 'auth', 'dnsbl', 'uribl'] as const;
export type AnalyzerKey = (typeof ANALYZER_KEYS)[number];

/**
 * The engines of the analyzers in `only`, started on loopback for the scanner benchmark: a
 * private clamd (one test signature) for `clamav`; a dnsmasq (answers NXDOMAIN for every
 * SPF/DKIM/DMARC/DNSBL/URIBL query, plus one listed URIBL name) for `auth`, `dnsbl`, `uribl`;
 * a private Rspamd for `rspamd` (left out, and said so in `engines`, when it is not installed).
 * Returns the scanner's `analyzers:` section and a stop that ends them by pid.
 */
export async function startAnalyzerPeers(only: readonly AnalyzerKey[]): Promise<{ analyzers: Record<string, unknown>; engines: string; stop(): Promise<void> }> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  const want = new Set(only);
  const analyzers: Record<string, unknown> = {};
  const engines: string[] = [];
  try {
    if (want.has('clamav')) {
      const clamd = await startClamd();
      stops.push(() => clamd.stop());
      analyzers['clamav'] = { port: clamd.port };
      engines.push('clamd');
    }
    const dnsUsers = (['auth', 'dnsbl', 'uribl'] as const).filter((k) => want.has(k));
    if (dnsUsers.length > 0) {
      const dns = await startDnsmasq({ a: { 'listed.example.dbl.bench': '127.0.1.2' } });
      stops.push(() => dns.stop());
      analyzers['dns'] = { servers: [dns.server] };
      if (want.has('auth')) analyzers['auth'] = {};
      if (want.has('dnsbl')) analyzers['dnsbl'] = { zones: [{ zone: 'zen.bench', weight: 5 }, { zone: 'bl.bench', weight: 3 }] };
      if (want.has('uribl')) analyzers['uribl'] = { zones: [{ zone: 'dbl.bench', weight: 5 }] };
      engines.push(`dnsmasq (${dnsUsers.map((k) => (k === 'dnsbl' ? 'dnsbl ×2 zones' : k)).join(', ')})`);
    }
    if (want.has('rspamd')) {
      if (RSPAMD) {
        const rspamd = await startRspamd();
        stops.push(() => rspamd.stop());
        analyzers['rspamd'] = { url: rspamd.url };
        engines.push('rspamd');
      } else {
        engines.push('rspamd not installed: left out');
      }
    }
    return { analyzers, engines: engines.join(', '), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
