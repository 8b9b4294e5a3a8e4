import { DETECTION_MODEL, engineSignals, strongestHits, weighSignal } from '@moat/rules';
import type { Analyzer, Findings } from '../analyzer.ts';
import { receivedHeader } from '../../pipeline/delivery-headers.ts';
import { readMessageFile } from '../../memory/buffer-garbage.ts';
import { check, ping, type SpamdAddress } from './spamc-client.ts';

export interface SpamassassinSettings {
  readonly address: SpamdAddress;
  readonly timeoutMs: number;
  /** spamd down, erroring or timing out: deliver with `X-Moat-Spam-Scan: unavailable` (default) or 451. */
  readonly onUnavailable: 'pass' | 'temp-fail';
  /** When set, every SpamAssassin signal's points times this (0: record only) instead of the detection model's weights. */
  readonly scoreWeight?: number | undefined;
  /** A bigger message is not sent (spamc's own limit is 500 KB); it is recorded as `spamassassin.skipped`. */
  readonly maxBytes: number;
  /** Our name in the Received line spamd sees (the scanner's `smtp.hostname`). */
  readonly hostname: string;
}

/**
 * Spam scoring by SpamAssassin's spamd (`REPORT`). The spooled file is streamed after a
 * Received line like the one we add on delivery, so SpamAssassin's trusted_networks logic sees
 * the real client (the PROXY client behind a balancer) as the last untrusted relay, not the
 * previous hop's claims. Its answer is cut into the detection model's signals (its Bayes vote
 * apart from its other rules: @moat/rules detection-model.ts), each weighed into an extra score
 * (`spamassassin`, `spamassassin.bayes`) whose detail names the points, the weight and the
 * rules. Its spam/ham call is not an action: the rules decide.
 */
export function spamassassinAnalyzer(settings: SpamassassinSettings): Analyzer {
  return {
    name: 'spamassassin',
    timeoutMs: settings.timeoutMs,
    probe: (signal) => ping(settings.address, { signal }),
    fallback: { policy: settings.onUnavailable, headers: ['X-Moat-Spam-Scan: unavailable'] },
    async run(input, signal): Promise<Findings> {
      if (input.size > settings.maxBytes) {
        return { extraScores: [{ id: 'spamassassin.skipped', score: 0, detail: `message of ${input.size} bytes is over maxBytes ${settings.maxBytes}` }] };
      }
      const received = receivedHeader({ helo: input.helo, clientIp: input.clientIp, clientHostname: input.clientHostname, hostname: settings.hostname, tls: false, at: Date.now() });
      const r = await check(
        settings.address,
        { prefix: Buffer.from(`${received}\r\n`, 'latin1'), body: readMessageFile(input.spoolFile, { highWaterMark: 64 * 1024 }), bodyBytes: input.size },
        { signal },
      );
      const signals = engineSignals('spamassassin', r.score, r.rules);
      const extraScores = signals.map((sig, i) => {
        const weight = settings.scoreWeight ?? DETECTION_MODEL.weights[sig.id];
        const rules = strongest(sig.hits, 8);
        // The first signal's detail carries SpamAssassin's whole answer (score/required), as the engine gave it.
        const what = i === 0 ? `score ${r.score}/${r.required} ×${weight} (model ${DETECTION_MODEL.version})` : `${sig.raw} points ×${weight}`;
        return { id: sig.id, score: weighSignal(DETECTION_MODEL, sig, settings.scoreWeight), detail: `${what}${rules.length ? `: ${rules.join(' ')}` : ''}` };
      });
      return {
        extraScores,
        headers: [`X-Moat-Spam-Scan: spamassassin score=${r.score} required=${r.required}`],
      };
    },
  };
}

/** The rules that weigh most, strongest first, as `NAME(score)`; when none weighs, the first ones (shared with Rspamd's symbols). */
export const strongest = strongestHits;
