import { readFileSync } from 'node:fs';
import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { LineCounter, parseDocument } from 'yaml';
import { collectErrors, type FieldError } from './schema-errors.ts';
import { formatFieldError, positionsOf, withPositions, type PositionOf } from './yaml-positions.ts';

/** A config or rules document that cannot be used; `errors` names every bad key. */
export class ConfigError extends Error {
  readonly code = 'MOAT_ERR_CONFIG';
  readonly source: string;
  readonly errors: readonly FieldError[];
  constructor(source: string, errors: readonly FieldError[]) {
    super(`${source}: ${errors.map(formatFieldError).join('; ')}`);
    this.name = 'ConfigError';
    this.source = source;
    this.errors = errors;
  }
}

/** Parse YAML (a superset of JSON) text; a syntax error names its line and column. */
export function parseYaml(text: string, source: string): unknown {
  return parseYamlDocument(text, source).value;
}

/** parseYaml, and where each key is written, so a schema error can name its line and column (`locateErrors`). */
export function parseYamlDocument(text: string, source: string): { value: unknown; positionOf: PositionOf } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        // yaml's own linePos is only filled with prettyErrors, which also rewrites the message.
        const { line, col } = lines.linePos(e.pos[0]);
        return { key: 'YAML syntax', message: e.message.split('\n')[0] ?? e.code, line, column: col };
      }),
    );
  }
  try {
    return { value: doc.toJS() ?? {}, positionOf: positionsOf(doc, lines) };
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

/**
 * Run a validation of a document read from a file; a ConfigError it throws comes out with each
 * error's line and column where the file has the key (`positionOf` from parseYamlDocument).
 */
export function locateErrors<T>(positionOf: PositionOf, validate: () => T): T {
  try {
    return validate();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.source, withPositions(err.errors, positionOf));
    throw err;
  }
}

/** Read a YAML config file, validate it against `schema` with its defaults, freeze it. */
export function loadConfigFile<S extends TSchema>(schema: S, path: string): Static<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: (err as Error).message }]);
  }
  const { value, positionOf } = parseYamlDocument(text, path);
  return locateErrors(positionOf, () => validateDocument(schema, value, path));
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
