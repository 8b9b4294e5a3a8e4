import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import type { AuthFacts } from '@moat/rules';
import type { Analyzer, Findings } from '../analyzer.ts';
import type { ResolveFn } from '../dns-resolver.ts';
import { readMessageFile } from '../../memory/buffer-garbage.ts';

export interface AuthSettings {
  readonly timeoutMs: number;
  readonly onUnavailable: 'pass' | 'temp-fail';
  /** The authserv-id of our Authentication-Results (the scanner's SMTP host name). */
  readonly hostname: string;
}

/**
 * Sender authentication with mailauth: SPF on the real client address, MAIL FROM and HELO
 * (HELO alone for the null sender), DKIM, DMARC for the From domain, ARC. The message is read
 * as a stream from the spool file; DNS goes through the shared resolver (its failures become
 * temperror results). Gives the rules `auth` facts and the delivered mail an
 * Authentication-Results header (and Received-SPF).
 */
export function authAnalyzer(settings: AuthSettings, resolve: ResolveFn): Analyzer {
  return {
    name: 'auth',
    timeoutMs: settings.timeoutMs,
    fallback: { policy: settings.onUnavailable, headers: ['X-Moat-Auth: unavailable'] },
    async run(input): Promise<Findings> {
      const result = await authenticate(readMessageFile(input.spoolFile), {
        ip: input.clientIp.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''),
        helo: input.helo || undefined,
        sender: input.mailFrom,
        mta: settings.hostname,
        resolver: resolve as DNSResolver,
        disableBimi: true, // BIMI shows logos; it decides nothing here and costs DNS and HTTPS
      });
      return { auth: authFacts(result), headers: splitHeaders(result.headers) };
    },
  };
}

/** The results the rules act on, from mailauth's result. */
export function authFacts(r: AuthenticateResult): AuthFacts {
  const dkims = r.dkim.results ?? [];
  const passed = dkims.find((d) => d.status.result === 'pass');
  const dkim = passed ?? dkims[0];
  const policy = r.dmarc ? r.dmarc.policy : '';
  return {
    spf: { result: r.spf ? r.spf.status.result : 'none', domain: r.spf ? r.spf.domain : '' },
    dkim: { result: dkim ? dkim.status.result : 'none', domain: dkim?.signingDomain ?? '' },
    dmarc: {
      result: r.dmarc ? r.dmarc.status.result : 'none',
      domain: r.dmarc ? (r.dmarc.status.header?.from ?? r.dmarc.domain) : (r.dkim.headerFrom?.[0]?.split('@').pop() ?? ''),
      policy: policy === 'none' || policy === 'quarantine' || policy === 'reject' ? policy : '',
    },
    arc: { result: r.arc ? r.arc.status.result : 'none', sealer: arcSealer(r) },
  };
}

/** The signing domain of the newest ARC set (its message signature's d=), '' without one. */
function arcSealer(r: AuthenticateResult): string {
  const signature = (r.arc as { signature?: { signingDomain?: unknown } | false } | undefined)?.signature;
  return signature && typeof signature.signingDomain === 'string' ? signature.signingDomain.toLowerCase() : '';
}

/** mailauth gives the new header lines as one CRLF-joined block; a line starting with white space continues a header. */
export function splitHeaders(block: string): string[] {
  const out: string[] = [];
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && out.length > 0) out[out.length - 1] += `\r\n${line}`;
    else out.push(line);
  }
  return out;
}
