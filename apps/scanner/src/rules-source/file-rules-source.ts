import { readFileSync, watchFile, unwatchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, parseYaml } from '@moat/config';
import { compileRules, validateRules, type CompiledRules } from '@moat/rules';
import type { RulesSource } from './rules-source.ts';

/** Read, validate and compile a rules file; throws ConfigError naming the bad field. */
export function loadRulesFile(path: string): CompiledRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: (err as Error).message }]);
  }
  return compileRules(validateRules(parseYaml(text, path), path));
}

/**
 * Rules from a local YAML/JSON file, reloaded when the file changes. A bad file is refused
 * with every bad field logged, and the rules in force stay in force. Polling (not fs.watch)
 * because editors and config tools replace files by rename, which inotify watches lose.
 */
export function createFileRulesSource(path: string, log: Logger, pollMs = 500): RulesSource {
  let rules = loadRulesFile(path);
  const listeners: ((r: CompiledRules) => void)[] = [];
  log.info({ event: 'RULES_LOADED', version: rules.version, file: path }, 'rules loaded');

  const onFileChange = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size) return;
    try {
      rules = loadRulesFile(path);
    } catch (err) {
      const errors = err instanceof ConfigError ? err.errors : [{ key: '(file)', message: String(err) }];
      log.error({ event: 'RULES_REFUSED', file: path, errors, keptVersion: rules.version }, 'rules file refused; the previous rules stay in force');
      return;
    }
    log.info({ event: 'RULES_LOADED', version: rules.version, file: path }, 'rules reloaded');
    for (const listener of listeners) listener(rules);
  };
  watchFile(path, { interval: pollMs, persistent: false }, onFileChange);

  return {
    current: () => rules,
    onChange: (listener) => void listeners.push(listener),
    close: () => unwatchFile(path, onFileChange),
  };
}
