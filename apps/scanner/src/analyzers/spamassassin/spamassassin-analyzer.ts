import type { Analyzer, Findings } from '../analyzer.ts';
import { receivedHeader } from '../../pipeline/delivery-headers.ts';
import { readMessageFile } from '../../memory/buffer-garbage.ts';
import { check, type SpamdAddress, type SpamRule } from './spamc-client.ts';

export interface SpamassassinSettings {
  readonly address: SpamdAddress;
  readonly timeoutMs: number;
  /** spamd down, erroring or timing out: deliver with `X-Moat-Spam-Scan: unavailable` (default) or 451. */
  readonly onUnavailable: 'pass' | 'temp-fail';
  /** SpamAssassin's score times this is the extra score `spamassassin` the rules add up (0: record only). */
  readonly scoreWeight: number;
  /** A bigger message is not sent (spamc's own limit is 500 KB); it is recorded as `spamassassin.skipped`. */
  readonly maxBytes: number;
  /** Our name in the Received line spamd sees (the scanner's `smtp.hostname`). */
  readonly hostname: string;
}

/**
 * Spam scoring by SpamAssassin's spamd (`REPORT`). The spooled file is streamed after a
 * Received line like the one we add on delivery, so SpamAssassin's trusted_networks logic sees
 * the real client (the PROXY client behind a balancer) as the last untrusted relay, not the
 * previous hop's claims. Its score, times `scoreWeight`, is the extra score `spamassassin` with
 * the strongest rules as its detail. Its spam/ham call is not an action: the rules decide.
 */
export function spamassassinAnalyzer(settings: SpamassassinSettings): Analyzer {
  return {
    name: 'spamassassin',
    timeoutMs: settings.timeoutMs,
    fallback: { policy: settings.onUnavailable, headers: ['X-Moat-Spam-Scan: unavailable'] },
    async run(input, signal): Promise<Findings> {
      if (input.size > settings.maxBytes) {
        return { extraScores: [{ id: 'spamassassin.skipped', score: 0, detail: `message of ${input.size} bytes is over maxBytes ${settings.maxBytes}` }] };
      }
      const received = receivedHeader({ helo: input.helo, clientIp: input.clientIp, hostname: settings.hostname, tls: false, at: Date.now() });
      const r = await check(
        settings.address,
        { prefix: Buffer.from(`${received}\r\n`, 'latin1'), body: readMessageFile(input.spoolFile, { highWaterMark: 64 * 1024 }), bodyBytes: input.size },
        { signal },
      );
      const rules = strongest(r.rules, 8);
      const detail = `score ${r.score}/${r.required}${rules.length ? `: ${rules.join(' ')}` : ''}`;
      return {
        extraScores: [{ id: 'spamassassin', score: r.score * settings.scoreWeight, detail }],
        headers: [`X-Moat-Spam-Scan: spamassassin score=${r.score} required=${r.required}`],
      };
    },
  };
}

/** The rules that weigh most, strongest first, as `NAME(score)`; when none weighs, the first ones. */
export function strongest(rules: readonly SpamRule[], max: number): string[] {
  const weighing = rules.filter((h) => h.score !== 0).sort((a, b) => Math.abs(b.score) - Math.abs(a.score));
  return (weighing.length > 0 ? weighing : rules).slice(0, max).map((h) => `${h.name}(${h.score})`);
}
