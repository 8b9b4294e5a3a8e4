import { parse } from 'yaml';
import { ConfigError } from './load-config.ts';

/**
 * `--set key.path=value` overrides, applied to a parsed config document before it is validated
 * (so an override is checked like the file itself). Used to run a shipped config (the Docker
 * image's, a packaged example) with other addresses, ports or folders without editing it.
 * The value is read as a YAML scalar or flow collection: `0` is a number, `true` a boolean,
 * `[a, b]` a list; an array element is addressed by its index (`balancer.upstreams.0.port`).
 */
export function applyOverrides(document: unknown, sets: readonly string[], source = '--set'): unknown {
  const root = structuredClone(document ?? {}) as Record<string, unknown>;
  for (const set of sets) {
    const eq = set.indexOf('=');
    const path = eq > 0 ? set.slice(0, eq).split('.') : [];
    if (path.length === 0 || path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw new ConfigError(source, [{ key: set, message: 'expected KEY=VALUE with a dotted key, e.g. smtp.listen.port=2525' }]);
    }
    let value: unknown;
    try {
      value = parse(set.slice(eq + 1));
    } catch (err) {
      throw new ConfigError(source, [{ key: path.join('.'), message: `value is not valid YAML: ${(err as Error).message.split('\n')[0]}` }]);
    }
    let node: Record<string, unknown> = root;
    for (const [i, part] of path.entries()) {
      if (i === path.length - 1) {
        node[part] = value ?? null;
        break;
      }
      const next = node[part];
      if (next === undefined) node[part] = {};
      else if (next === null || typeof next !== 'object') {
        throw new ConfigError(source, [{ key: path.slice(0, i + 1).join('.'), message: 'is not a section: cannot set a key inside it' }]);
      }
      node = node[part] as Record<string, unknown>;
    }
  }
  return root;
}
