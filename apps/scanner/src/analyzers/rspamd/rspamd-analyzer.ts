import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { DETECTION_MODEL, engineSignals, strongestHits, weighSignal, type Action, type EngineHit } from '@moat/rules';
import type { Analyzer, Findings } from '../analyzer.ts';
import { readMessageFile } from '../../memory/buffer-garbage.ts';

/** Rspamd's action words (`/checkv2`'s `action`). */
export type RspamdAction = 'reject' | 'soft reject' | 'rewrite subject' | 'add header' | 'greylist' | 'no action';

export interface RspamdSettings {
  /** The normal worker's base URL, e.g. `http://127.0.0.1:11333`; `/checkv2` is appended. */
  readonly url: string;
  readonly timeoutMs: number;
  /** Rspamd down, erroring or timing out: deliver with `X-Moat-Spam-Scan: unavailable` (default) or 451. */
  readonly onUnavailable: 'pass' | 'temp-fail';
  /** When set, every Rspamd signal's points times this (0: record only) instead of the detection model's weights. */
  readonly scoreWeight?: number | undefined;
  /** What an Rspamd action asks of the verdict (e.g. `reject: quarantine`); unmapped actions only score. */
  readonly actions: Readonly<Partial<Record<RspamdAction, Exclude<Action, 'deliver'>>>>;
  /** Sent as `Password` (the worker's `password`), when set. */
  readonly password?: string | undefined;
  /** A bigger message is not sent (Rspamd's `max_message`); it is recorded as `rspamd.skipped`. */
  readonly maxBytes: number;
}

/** The part of a `/checkv2` answer this analyzer reads. */
export interface RspamdResult {
  readonly score: number;
  readonly requiredScore: number;
  readonly action: string;
  /** The symbols that weigh most, strongest first, as `NAME(score)`. */
  readonly symbols: readonly string[];
  /** Every symbol with its score (for the detection model's signals). */
  readonly hits: readonly EngineHit[];
}

const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * Spam scoring by Rspamd's HTTP scanning API: the spooled file is streamed to `/checkv2` with
 * the envelope as headers (IP, Hostname when verified, Helo, From, Rcpt). Rspamd's answer is cut into the detection
 * model's signals (its Bayes and fuzzy votes apart from its other symbols: @moat/rules
 * detection-model.ts), each weighed into an extra score (`rspamd`, `rspamd.bayes`,
 * `rspamd.fuzzy`) whose detail names the points, the weight and the symbols. Its action asks
 * for a verdict action only when the admin maps it in `actions` (none by default). The rules
 * decide, as for every analyzer.
 */
export function rspamdAnalyzer(settings: RspamdSettings): Analyzer {
  const endpoint = new URL('checkv2', settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
  return {
    name: 'rspamd',
    timeoutMs: settings.timeoutMs,
    async probe(signal) {
      // Rspamd's normal worker answers `pong` on /ping (no password needed).
      const res = await fetch(new URL('ping', endpoint), { signal });
      const body = (await res.text()).trim();
      if (res.status !== 200 || body !== 'pong') throw new Error(`rspamd answered /ping with HTTP ${res.status} ${JSON.stringify(body.slice(0, 100))}`);
    },
    fallback: { policy: settings.onUnavailable, headers: ['X-Moat-Spam-Scan: unavailable'] },
    async run(input, signal): Promise<Findings> {
      if (input.size > settings.maxBytes) {
        return { extraScores: [{ id: 'rspamd.skipped', score: 0, detail: `message of ${input.size} bytes is over maxBytes ${settings.maxBytes}` }] };
      }
      const headers: Record<string, string | string[]> = {
        'Content-Length': String(input.size),
        IP: input.clientIp,
        Helo: input.helo,
        From: input.mailFrom,
        Rcpt: [...input.rcptTo],
      };
      // The verified name, as an MTA passes it; none: Rspamd counts the client as unknown.
      if (input.clientHostname) headers['Hostname'] = input.clientHostname;
      if (settings.password) headers['Password'] = settings.password;
      const r = await check(endpoint, headers, input.spoolFile, signal);
      const action = Object.hasOwn(settings.actions, r.action) ? settings.actions[r.action as RspamdAction] : undefined;
      const signals = engineSignals('rspamd', r.score, r.hits);
      const extraScores = signals.map((sig, i) => {
        const weight = settings.scoreWeight ?? DETECTION_MODEL.weights[sig.id];
        const symbols = strongestHits(sig.hits, 8);
        // The first signal carries Rspamd's whole answer (action, score/required) and the mapped action, if any.
        const what = i === 0 ? `${r.action}, score ${r.score}/${r.requiredScore} ×${weight} (model ${DETECTION_MODEL.version})` : `${sig.raw} points ×${weight}`;
        const detail = `${what}${symbols.length ? `: ${symbols.join(' ')}` : ''}`;
        return { id: sig.id, score: weighSignal(DETECTION_MODEL, sig, settings.scoreWeight), detail, ...(i === 0 ? { action } : {}) };
      });
      return {
        extraScores,
        signals,
        headers: [`X-Moat-Spam-Scan: rspamd score=${r.score} required=${r.requiredScore} action=${r.action}`.replace(/[\r\n]/g, ' ')],
      };
    },
  };
}

async function check(endpoint: URL, headers: Record<string, string | string[]>, file: string, signal: AbortSignal): Promise<RspamdResult> {
  const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(endpoint, { method: 'POST', headers, signal });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // A refused connection fails the upload too; the answer's error is the one that tells why.
  await Promise.all([pipeline(readMessageFile(file, { highWaterMark: 64 * 1024 }), req).catch(() => undefined), answered]);
  const res = await answered;
  let body = '';
  let bytes = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_REPLY_BYTES) {
      res.destroy();
      throw new Error(`rspamd reply over ${MAX_REPLY_BYTES} bytes`);
    }
    body += chunk.toString('utf8');
  }
  if (res.statusCode !== 200) throw new Error(`rspamd answered HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
  return parseCheckV2(body);
}

/** Read a `/checkv2` answer; anything that is not one is an error (the fallback applies). */
export function parseCheckV2(body: string): RspamdResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error('rspamd reply is not JSON');
  }
  const o = json as { score?: unknown; required_score?: unknown; action?: unknown; symbols?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.score !== 'number' || !Number.isFinite(o.score) || typeof o.action !== 'string') {
    throw new Error('rspamd reply has no score or action');
  }
  const all = typeof o.symbols === 'object' && o.symbols !== null ? Object.values(o.symbols as Record<string, { name?: unknown; score?: unknown }>) : [];
  const hits = all
    .filter((s) => typeof s?.name === 'string' && typeof s.score === 'number' && Number.isFinite(s.score))
    .map((s) => ({ name: (s.name as string).slice(0, 64), score: s.score as number }));
  const symbols = strongestHits(hits, 8);
  return { score: o.score, requiredScore: typeof o.required_score === 'number' ? o.required_score : 0, action: o.action.slice(0, 32), symbols, hits };
}

