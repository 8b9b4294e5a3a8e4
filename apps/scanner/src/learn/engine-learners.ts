import { Readable } from 'node:stream';
import type { LearnEvent } from '@moat/protocol';
import { SpamdError, tell, type SpamdAddress } from '../analyzers/spamassassin/spamc-client.ts';

/**
 * One engine's store that a learn event teaches. `apply` resolves once the engine has it (or
 * says it already had it), throws `EngineDown` when the engine cannot be reached or fails (the
 * event stays pending and is retried), and resolves with a note when the engine refuses this
 * message for good (e.g. too little text for Bayes): retrying would block the log forever.
 */
export interface EngineLearner {
  readonly name: string;
  apply(event: LearnEvent, raw: Buffer): Promise<string | undefined>;
}

export class EngineDown extends Error {
  override readonly name = 'EngineDown';
}

/** SpamAssassin's Bayes through spamd's TELL (`--allow-tell`): a reversal removes the old class first. */
export function spamassassinLearner(address: SpamdAddress, timeoutMs: number): EngineLearner {
  const message = (raw: Buffer) => ({ body: Readable.from([raw]), bodyBytes: raw.length });
  const call = async (raw: Buffer, messageClass: 'spam' | 'ham', action: 'set' | 'remove') => {
    try {
      return await tell(address, message(raw), { messageClass, action }, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new EngineDown(`spamassassin: ${(err as Error).message}${err instanceof SpamdError && err.code === 'refused' ? ' (does spamd run with --allow-tell?)' : ''}`);
    }
  };
  return {
    name: 'spamassassin',
    async apply(event, raw) {
      if (event.unlearn) await call(raw, event.unlearn, 'remove');
      await call(raw, event.class, 'set');
      return undefined;
    },
  };
}

/**
 * Rspamd through its controller: `/learnspam`, `/learnham` (Bayes in its Redis; learning the
 * other class of a message it learned unlearns the first), and with `fuzzy`, `/fuzzyadd` for
 * spam and `/fuzzydel` on a reversal to ham.
 */
export function rspamdLearner(settings: { controllerUrl: string; password?: string; timeoutMs: number; fuzzy: boolean }): EngineLearner {
  const base = settings.controllerUrl.replace(/\/+$/, '');
  const post = async (path: string, raw: Buffer, extra: Record<string, string> = {}): Promise<{ status: number; text: string }> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        body: raw,
        headers: { ...(settings.password ? { Password: settings.password } : {}), ...extra },
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
    } catch (err) {
      throw new EngineDown(`rspamd ${path}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    }
    const text = (await res.text()).slice(0, 500);
    if (res.status >= 500 || res.status === 401 || res.status === 403) throw new EngineDown(`rspamd ${path}: HTTP ${res.status} ${text}`);
    return { status: res.status, text };
  };
  return {
    name: 'rspamd',
    async apply(event, raw) {
      const notes: string[] = [];
      const learned = await post(event.class === 'spam' ? '/learnspam' : '/learnham', raw);
      // 208: already learned as this class. Any other 4xx: Rspamd will not learn this message (too few tokens…).
      if (learned.status >= 400 && learned.status !== 208) notes.push(`bayes: HTTP ${learned.status} ${learned.text}`);
      if (settings.fuzzy) {
        const fuzzy = event.class === 'spam' ? await post('/fuzzyadd', raw, { Flag: '1', Weight: '10' }) : event.unlearn === 'spam' ? await post('/fuzzydel', raw, { Flag: '1' }) : undefined;
        if (fuzzy && fuzzy.status >= 400) notes.push(`fuzzy: HTTP ${fuzzy.status} ${fuzzy.text}`);
      }
      return notes.length > 0 ? notes.join('; ') : undefined;
    },
  };
}
