import { readFileSync } from 'node:fs';
import type { Static, TSchema } from 'typebox';
import { applyOverrides, ConfigError, locateErrors, parseYamlDocument, validateDocument, type PositionOf } from '@moat/config';
import { validateBalancerConfig, type BalancerConfig } from '@moat/balancer';

/** A role's YAML file with the command line's `--set KEY=VALUE` overrides, then validated and frozen. */
export function readConfigDocument(path: string, sets: readonly string[]): { document: unknown; positionOf: PositionOf } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: (err as Error).message }]);
  }
  const { value, positionOf } = parseYamlDocument(text, path);
  const document = applyOverrides(value, sets, `${path} (--set)`);
  // A key set (or replaced from above) on the command line is not where the file says: no position for it.
  const overridden = sets.map((set) => set.slice(0, set.indexOf('=')));
  const fromFile: PositionOf = (key) => (overridden.some((o) => key === o || key.startsWith(`${o}.`)) ? undefined : positionOf(key));
  return { document, positionOf: fromFile };
}

export function loadRoleConfig<S extends TSchema>(schema: S, path: string, sets: readonly string[]): Static<S> {
  const { document, positionOf } = readConfigDocument(path, sets);
  return locateErrors(positionOf, () => validateDocument(schema, document, path));
}

export function loadBalancerRoleConfig(path: string, sets: readonly string[]): BalancerConfig {
  const { document, positionOf } = readConfigDocument(path, sets);
  return locateErrors(positionOf, () => validateBalancerConfig(document, path));
}
