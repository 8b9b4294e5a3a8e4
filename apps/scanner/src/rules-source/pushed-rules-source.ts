import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '@moat/config';
import { writeFileDurably } from '@moat/storage';
import { compileRules, validateRules, type CompiledRules } from '@moat/rules';
import type { RulesSource } from './rules-source.ts';

/** Rules pushed by the master: validated, persisted, then swapped in. */
export interface PushedRulesSource extends RulesSource {
  /** Resolves once some rules are in force (persisted ones at start, or the first push). */
  ready(): Promise<void>;
  hasRules(): boolean;
  version(): number;
  /** Validate, persist and swap in a pushed document; a bad one changes nothing. */
  apply(version: number, document: unknown): Promise<{ ok: true } | { ok: false; error: string }>;
}

/**
 * Keeps the last rules the master pushed on local disk (`rules.json`), so a scanner keeps
 * filtering with them while the master is down and after its own restart.
 */
export function createPushedRulesSource(dataDir: string, log: Logger): PushedRulesSource {
  const file = join(dataDir, 'rules.json');
  let rules: CompiledRules | undefined;
  const listeners: ((r: CompiledRules) => void)[] = [];
  let markReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve));

  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { document: unknown };
    rules = compileRules(validateRules(stored.document, file));
    log.info({ event: 'RULES_LOADED', version: rules.version, file }, 'rules loaded from the last push');
    markReady();
  }

  return {
    current() {
      if (!rules) throw new Error('no rules yet');
      return rules;
    },
    onChange: (listener) => void listeners.push(listener),
    close: () => undefined,
    ready: () => readyPromise,
    hasRules: () => rules !== undefined,
    version: () => rules?.version ?? 0,
    async apply(version, document) {
      let next: CompiledRules;
      try {
        const validated = validateRules(document, `rules version ${version}`);
        if (validated.version !== version) throw new ConfigError('rules.push', [{ key: 'version', message: `document says ${validated.version}, frame says ${version}` }]);
        next = compileRules(validated);
      } catch (err) {
        const error = err instanceof ConfigError ? err.message : String(err);
        log.error({ event: 'RULES_REFUSED', version, error }, 'pushed rules refused; the previous rules stay in force');
        return { ok: false, error: error.slice(0, 1900) };
      }
      await writeFileDurably(file, JSON.stringify({ version, document }));
      rules = next;
      log.info({ event: 'RULES_APPLIED', version }, 'rules from the master applied');
      for (const listener of listeners) listener(next);
      markReady();
      return { ok: true };
    },
  };
}
