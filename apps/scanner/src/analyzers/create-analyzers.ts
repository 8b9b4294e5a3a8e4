import { DETECTION_MODEL } from '@moat/rules';
import type { ScannerConfig } from '../config.ts';
import { authAnalyzer } from './auth/auth-analyzer.ts';
import { clamavAnalyzer } from './clamav/clamav-analyzer.ts';
import { createDnsResolver, type ResolveFn } from './dns-resolver.ts';
import { dnsblAnalyzer } from './dnsbl/dnsbl-analyzer.ts';
import { uriblAnalyzer } from './uribl/uribl-analyzer.ts';
import { rspamdAnalyzer } from './rspamd/rspamd-analyzer.ts';
import { spamassassinAnalyzer } from './spamassassin/spamassassin-analyzer.ts';
import { rspamdPoints, settledByRspamd } from './spamassassin/settled-by-rspamd.ts';
import type { Analyzer, Findings } from './analyzer.ts';

/** The analyzers the config turns on, in a fixed order, sharing one DNS resolver (`resolve`, else one of their own from `analyzers.dns`). */
export function createAnalyzers(config: ScannerConfig, resolve: ResolveFn = createDnsResolver(config.analyzers.dns)): Analyzer[] {
  const a = config.analyzers;
  const analyzers: Analyzer[] = [];
  if (a.clamav) {
    const c = a.clamav;
    analyzers.push(
      clamavAnalyzer({
        address: c.socket ? { socket: c.socket } : { host: c.host, port: c.port },
        timeoutMs: c.timeoutSeconds * 1000,
        action: c.action,
        onUnavailable: c.onUnavailable,
        streamMaxBytes: c.streamMaxBytes,
        onTooLarge: c.onTooLarge,
        heuristics: c.heuristics,
      }),
    );
  }
  if (a.rspamd) {
    const r = a.rspamd;
    analyzers.push(rspamdAnalyzer({ url: r.url, timeoutMs: r.timeoutSeconds * 1000, onUnavailable: r.onUnavailable, scoreWeight: r.scoreWeight, actions: r.actions, password: r.password, maxBytes: r.maxBytes }));
  }
  if (a.spamassassin) {
    const s = a.spamassassin;
    const spamassassin = spamassassinAnalyzer({
      address: s.socket ? { socket: s.socket } : { host: s.host, port: s.port },
      timeoutMs: s.timeoutSeconds * 1000,
      onUnavailable: s.onUnavailable,
      scoreWeight: s.scoreWeight,
      maxBytes: s.maxBytes,
      hostname: config.smtp.hostname,
    });
    // Rspamd answers first; spamd, the costly engine, is not asked when Rspamd is sure of good mail.
    analyzers.push(a.rspamd && s.skipWhenRspamdSure ? { ...spamassassin, after: { analyzer: 'rspamd', skipWhen: skipWhenRspamdSure } } : spamassassin);
  }
  if (a.auth) analyzers.push(authAnalyzer({ timeoutMs: a.auth.timeoutSeconds * 1000, onUnavailable: a.auth.onUnavailable, hostname: config.smtp.authservId ?? config.smtp.hostname }, resolve));
  if (a.dnsbl) analyzers.push(dnsblAnalyzer(a.dnsbl.zones, resolve, a.dnsbl.timeoutSeconds * 1000));
  if (a.uribl) {
    const u = a.uribl;
    analyzers.push(uriblAnalyzer({ zones: u.zones, timeoutMs: u.timeoutSeconds * 1000, maxDomains: u.maxDomains, maxTextChars: u.maxTextChars, skipDomains: u.skipDomains }, resolve));
  }
  return analyzers;
}

/** The detection model's rule for leaving SpamAssassin out: Rspamd's answer alone settles good mail. */
function skipWhenRspamdSure(rspamd: Findings): string | undefined {
  const points = rspamd.signals && rspamdPoints(rspamd.signals);
  return points && settledByRspamd(points, DETECTION_MODEL.settledByRspamd);
}
