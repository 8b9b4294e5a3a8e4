import type { Analyzer, Findings } from '../analyzer.ts';
import { ClamdError, ping, scanStream, type ClamdAddress } from './clamd-client.ts';
import { readMessageFile } from '../../memory/buffer-garbage.ts';
import { heuristicFindings, type HeuristicsPolicy } from './heuristics.ts';

export interface ClamavSettings {
  readonly address: ClamdAddress;
  readonly timeoutMs: number;
  /** What a virus does to the message (the rules put it above every allow-list). */
  readonly action: 'quarantine' | 'reject';
  /** clamd down or timing out: 451 (default) or deliver with `X-Moat-Virus-Scan: unavailable`. */
  readonly onUnavailable: 'temp-fail' | 'pass';
  /** clamd's StreamMaxLength: a bigger message is not sent. */
  readonly streamMaxBytes: number;
  /** Past clamd's StreamMaxLength the message cannot be scanned: hold it (default) or pass it with a header. */
  readonly onTooLarge: 'quarantine' | 'pass';
  /** clamd's macro and encryption heuristics as policy: a `Heuristics.*` name of theirs is not a virus. */
  readonly heuristics: HeuristicsPolicy;
}

/** The virus scan: the spooled file streamed to clamd with INSTREAM. */
export function clamavAnalyzer(settings: ClamavSettings): Analyzer {
  return {
    name: 'clamav',
    probe: (signal) => ping(settings.address, { signal }),
    timeoutMs: settings.timeoutMs,
    fallback: { policy: settings.onUnavailable, headers: ['X-Moat-Virus-Scan: unavailable'] },
    async run(input, signal): Promise<Findings> {
      try {
        // clamd closes on a stream past its limit and the bytes still in flight reset the
        // connection, which can swallow its reply: so the limit is also checked here.
        if (input.size > settings.streamMaxBytes) throw new ClamdError('too-large', `message of ${input.size} bytes is over streamMaxBytes ${settings.streamMaxBytes}`);
        const result = await scanStream(settings.address, readMessageFile(input.spoolFile, { highWaterMark: 64 * 1024 }), { signal });
        if (!result.infected) return { headers: ['X-Moat-Virus-Scan: clean'] };
        return heuristicFindings(result.name, settings.heuristics) ?? { virus: { name: result.name, action: settings.action } };
      } catch (err) {
        if (!(err instanceof ClamdError) || err.code !== 'too-large') throw err;
        const headers = ['X-Moat-Virus-Scan: not scanned (too large)'];
        if (settings.onTooLarge === 'pass') return { headers, extraScores: [{ id: 'clamav.too-large', score: 0, detail: err.message }] };
        return { headers, hold: { rule: 'clamav.too-large', detail: err.message } };
      }
    },
  };
}
