import { startClamd } from '../../helpers/clamd.ts';
import { startDnsmasq } from '../../helpers/dnsmasq.ts';
import { RSPAMD, startRspamd } from '../../helpers/rspamd.ts';

/**
 * The engines of "every analyzer on", started on loopback for the scanner benchmark: a private
 * clamd (one test signature), a dnsmasq (answers NXDOMAIN for every SPF/DKIM/DMARC/DNSBL/URIBL
 * query, plus one listed URIBL name) and, when Debian's rspamd is installed, a private Rspamd.
 * Returns the scanner's `analyzers:` section and a stop that ends them by pid.
 */
export async function startAnalyzerPeers(withRspamd: boolean): Promise<{ analyzers: Record<string, unknown>; engines: string; stop(): Promise<void> }> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const clamd = await startClamd();
    stops.push(() => clamd.stop());
    const dns = await startDnsmasq({ a: { 'listed.example.dbl.bench': '127.0.1.2' } });
    stops.push(() => dns.stop());
    const analyzers: Record<string, unknown> = {
      dns: { servers: [dns.server] },
      clamav: { port: clamd.port },
      auth: {},
      dnsbl: { zones: [{ zone: 'zen.bench', weight: 5 }, { zone: 'bl.bench', weight: 3 }] },
      uribl: { zones: [{ zone: 'dbl.bench', weight: 5 }] },
    };
    let engines = 'clamd, dnsmasq (auth, dnsbl ×2 zones, uribl)';
    if (withRspamd && RSPAMD) {
      const rspamd = await startRspamd();
      stops.push(() => rspamd.stop());
      analyzers['rspamd'] = { url: rspamd.url };
      engines += ', rspamd';
    }
    return { analyzers, engines, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
