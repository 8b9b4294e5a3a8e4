/**
 * Input generators shared by the fuzz targets: JSON documents derived from a JSON Schema
 * (TypeBox schemas are JSON Schema; so are the routes of the OpenAPI document), mutations of a
 * known-good document, and nasty strings.
 */
import fc from 'fast-check';

type Schema = Record<string, unknown>;

/** Strings that break naive code: control bytes, 8-bit, huge, path and injection shapes. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.constantFrom('', ' ', '\u0000', '\r\n', '../../etc/passwd', '%00', '%', '%ZZ', '*', '**', '[', '(?:', '\\', '"', "'", '${x}', '__proto__', 'constructor', 'toString',
    '127.0.0.1/33', '::1/129', '999.1.1.1', '@', 'a@b@c', '<>', 'NaN', 'Infinity', '-0', '1e309', '0x10', '\uD800', '\uFFFF', 'é', '\u202E') },
  { weight: 1, arbitrary: fc.constantFrom(321, 1001, 4097, 70_000).map((n) => 'x'.repeat(n)) },
);

/** Any JSON value, plus the nasty strings and a few prototype-pollution keys. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    nastyString,
    fc.array(tie('v'), { maxLength: 5 }),
    // Object.prototype's names as keys: `String()` or a template of an object whose `toString`
    // or `valueOf` is not a function throws (a protocol error message did, found in CI).
    fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'toJSON', 'hasOwnProperty', 'type', 'id', 'version')), tie('v'), { maxKeys: 5 }),
  ),
})).v;

/**
 * A value for `schema`: mostly valid (so the code behind the schema runs), sometimes wrong in
 * one place (a wrong type, a missing required key, an unknown key, a bound crossed).
 */
export function fromSchema(schema: unknown, depth = 0): fc.Arbitrary<unknown> {
  const s = (schema ?? {}) as Schema;
  const wrong = anyJson;
  const valid = validFor(s, depth);
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: wrong });
}

function validFor(s: Schema, depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return anyJson;
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alts = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(alts) && alts.length > 0) return fc.oneof(...alts.map((a) => fromSchema(a, depth + 1)));
  if (Array.isArray(s.allOf) && s.allOf.length > 0) return fromSchema(s.allOf[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      return stringFor(s);
    case 'integer':
    case 'number': {
      const min = typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : -1e6;
      const max = typeof s.maximum === 'number' ? s.maximum : typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : 1e6;
      const inside = type === 'integer' ? fc.integer({ min: Math.ceil(min), max: Math.max(Math.ceil(min), Math.floor(max)) }) : fc.double({ min, max, noNaN: true });
      return fc.oneof({ weight: 5, arbitrary: inside }, { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1, 0.5, -0, 2 ** 53 + 1) });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const item = s.items && typeof s.items === 'object' ? fromSchema(s.items, depth + 1) : anyJson;
      const maxLength = Math.min(typeof s.maxItems === "number" ? s.maxItems + 1 : 4, 4);
      return fc.array(item, { maxLength });
    }
    case 'object':
    default:
      if (type !== 'object' && !s.properties && !s.patternProperties) return anyJson;
      return objectFor(s, depth);
  }
}

function stringFor(s: Schema): fc.Arbitrary<string> {
  // fast-check generates a negated class ([^…]) and an open end (a pattern without `$`) by
  // filtering random characters: far too slow. Anchored patterns only; an open end gets a
  // plain random tail instead.
  const pattern = typeof s.pattern === 'string' && s.pattern.startsWith('^') && !s.pattern.includes('[^') ? s.pattern : undefined;
  if (pattern) {
    let matching: fc.Arbitrary<string> | undefined;
    try {
      matching = pattern.endsWith('$')
        ? fc.stringMatching(new RegExp(pattern))
        : fc.tuple(fc.stringMatching(new RegExp(`${pattern}$`)), fc.string({ maxLength: 20 })).map(([head, tail]) => head + tail);
    } catch {
      matching = undefined; // a pattern fast-check cannot generate from
    }
    if (matching) return fc.oneof({ weight: 4, arbitrary: matching }, { weight: 1, arbitrary: nastyString });
  }
  const minLength = typeof s.minLength === 'number' ? s.minLength : 0;
  const maxLength = Math.min(typeof s.maxLength === 'number' ? s.maxLength : 30, 60);
  const plain = fc.string({ minLength: Math.min(minLength, maxLength), maxLength: Math.max(minLength, maxLength) });
  const shaped = fc.constantFrom('example.test', 'user@example.test', '*@blocked.example', '127.0.0.1', '10.0.0.0/8', '::1', 'ws://127.0.0.1:1/cluster',
    'scanner-1', 'admin', 'QUARANTINE-ME', '.exe', 'application/zip', '^a+$', '(a+)+$', '2026-01-01T00:00:00Z', 'abcdefghijklmnopqrstuvwxyz012345');
  return fc.oneof({ weight: 3, arbitrary: plain }, { weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: nastyString });
}

function objectFor(s: Schema, depth: number): fc.Arbitrary<unknown> {
  const props = (s.properties ?? {}) as Record<string, unknown>;
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  const keys = Object.keys(props);
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const k of keys) shape[k] = fromSchema(props[k], depth + 1);
  const record = fc.record(shape, { requiredKeys: keys.filter((k) => required.has(k)) });
  const extra = s.patternProperties || (s.additionalProperties && typeof s.additionalProperties === 'object')
    ? fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fromSchema(s.additionalProperties ?? Object.values(s.patternProperties as object)[0], depth + 1), { maxKeys: 3 })
    : fc.constant({});
  return fc.tuple(record, extra, fc.nat(20), fc.string({ maxLength: 10 }), anyJson).map(([base, more, roll, name, junk]) => {
    const out: Record<string, unknown> = { ...more, ...(base as object) };
    if (roll === 0 && keys.length > 0) delete out[keys[0]!]; // a required key missing
    if (roll === 1) out[`unknown${name}`] = junk; // an unknown key
    return out;
  });
}

/** Paths of a JSON document, root first. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

/** A known-good document changed in 1–4 places: a value replaced, a key removed, a key added. */
export function mutationsOf(doc: unknown): fc.Arbitrary<unknown> {
  const all = paths(doc);
  const edit = fc.tuple(fc.nat(all.length - 1), fc.constantFrom('replace', 'delete', 'add'), anyJson, fc.string({ maxLength: 12 }));
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let copy = structuredClone(doc) as unknown;
    for (const [index, kind, value, key] of edits) {
      const path = all[index]!;
      if (path.length === 0) {
        if (kind === 'replace') copy = value;
        continue;
      }
      let parent = copy as Record<string | number, unknown>;
      for (const part of path.slice(0, -1)) {
        if (!parent || typeof parent !== 'object') break;
        parent = parent[part] as Record<string | number, unknown>;
      }
      if (!parent || typeof parent !== 'object') continue;
      const last = path[path.length - 1]!;
      if (kind === 'replace') parent[last] = value;
      else if (kind === 'delete') {
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
      } else if (!Array.isArray(parent)) parent[key] = value;
      else parent.push(value);
    }
    return copy;
  });
}
