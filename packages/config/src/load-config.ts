import { readFileSync } from 'node:fs';
import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { parseDocument } from 'yaml';
import { collectErrors, type FieldError } from './schema-errors.ts';

/** A config or rules document that cannot be used; `errors` names every bad key. */
export class ConfigError extends Error {
  readonly code = 'MOAT_ERR_CONFIG';
  readonly source: string;
  readonly errors: readonly FieldError[];
  constructor(source: string, errors: readonly FieldError[]) {
    super(`${source}: ${errors.map((e) => `${e.key}: ${e.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.source = source;
    this.errors = errors;
  }
}

/** Parse YAML (a superset of JSON) text; a syntax error names the line. */
export function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ key: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.code })),
    );
  }
  try {
    return doc.toJS() ?? {};
  } catch (err) {
    // Parsing succeeded but building the value did not: an alias to an anchor that does not
    // exist (`a: *nowhere`) or an alias bomb past yaml's maxAliasCount. Found by fuzzing.
    throw new ConfigError(source, [{ key: '(root)', message: (err as Error).message.split('\n')[0] ?? 'cannot build the document' }]);
  }
}

/**
 * Apply the schema's defaults, validate, and deep-freeze. The input is not modified.
 * Throws ConfigError naming each bad or unknown key.
 */
export function validateDocument<S extends TSchema>(schema: S, input: unknown, source: string): Static<S> {
  const value = Value.Default(schema, structuredClone(input));
  const errors = collectErrors(schema, value);
  if (errors.length > 0) throw new ConfigError(source, errors);
  return deepFreeze(value) as Static<S>;
}

/** Read a YAML config file, validate it against `schema` with its defaults, freeze it. */
export function loadConfigFile<S extends TSchema>(schema: S, path: string): Static<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: (err as Error).message }]);
  }
  return validateDocument(schema, parseYaml(text, path), path);
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
