import { readFileSync } from 'node:fs';
import type { Static, TSchema } from 'typebox';
import { applyOverrides, ConfigError, parseYaml, validateDocument } from '@moat/config';
import { validateBalancerConfig, type BalancerConfig } from '@moat/balancer';

/** A role's YAML file with the command line's `--set KEY=VALUE` overrides, then validated and frozen. */
export function readConfigDocument(path: string, sets: readonly string[]): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: (err as Error).message }]);
  }
  return applyOverrides(parseYaml(text, path), sets, `${path} (--set)`);
}

export function loadRoleConfig<S extends TSchema>(schema: S, path: string, sets: readonly string[]): Static<S> {
  return validateDocument(schema, readConfigDocument(path, sets), path);
}

export function loadBalancerRoleConfig(path: string, sets: readonly string[]): BalancerConfig {
  return validateBalancerConfig(readConfigDocument(path, sets), path);
}
