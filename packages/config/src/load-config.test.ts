import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from 'typebox';
import { ConfigError, locateErrors, parseYaml, parseYamlDocument, validateDocument } from './load-config.ts';
import { formatFieldError } from './yaml-positions.ts';
import { RetiredKey } from './retired-key.ts';

const Schema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    smtp: Type.Object(
      { port: Type.Integer({ minimum: 0, maximum: 65535, default: 2525 }), host: Type.String({ default: '127.0.0.1' }) },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

function errorsOf(input: unknown): string[] {
  try {
    validateDocument(Schema, input, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.errors.map((e) => `${e.key}: ${e.message}`);
  }
  return [];
}

test('defaults fill missing sections and the result is frozen', () => {
  const value = validateDocument(Schema, { name: 'a' }, 'test.yaml');
  assert.deepEqual(value, { name: 'a', smtp: { port: 2525, host: '127.0.0.1' } });
  assert.ok(Object.isFrozen(value.smtp));
});

test('each bad key is named', () => {
  assert.deepEqual(errorsOf({}), ['name: required key is missing']);
  assert.deepEqual(errorsOf({ name: 'a', smtp: { prot: 1 } }), ['smtp.prot: unknown key']);
  const wrong = errorsOf({ name: 'a', smtp: { port: 'x' } });
  assert.equal(wrong.length, 1);
  assert.match(wrong[0]!, /^smtp\.port: /);
  assert.match(errorsOf({ name: 'a', smtp: { port: 70000 } })[0]!, /^smtp\.port: /);
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  return assert.fail('expected a ConfigError');
}

test('YAML syntax errors name their line and column', () => {
  const cases: [string, number, number, RegExp][] = [
    ['a: 1\nb: [\n', 3, 1, /flow sequence/i],
    ['a: 1\na: 2\n', 2, 1, /unique/i],
    ['name: x\nsmtp:\n  port: 1\n   host: y\n', 3, 9, /nested mappings/i],
    ['a: "unterminated\n', 2, 1, /quote/i],
    ['a:\n\tb: 1\n', 2, 1, /tabs/i],
  ];
  for (const [text, line, column, message] of cases) {
    const err = configError(() => parseYaml(text, 'x.yaml'));
    const first = err.errors[0]!;
    assert.deepEqual([first.key, first.line, first.column], ['YAML syntax', line, column], JSON.stringify(text));
    assert.match(first.message, message);
    assert.match(err.message, new RegExp(`^x\\.yaml: YAML syntax \\(line ${line}, column ${column}\\): `));
  }
});

test("schema errors name the key's line and column where the file writes the key", () => {
  const text = 'name: ""\nsmtp:\n  host: h\n  port: seventy\n  prot: 1\n';
  const { value, positionOf } = parseYamlDocument(text, 'pos.yaml');
  const err = configError(() => locateErrors(positionOf, () => validateDocument(Schema, value, 'pos.yaml')));
  const shown = err.errors.map(formatFieldError).sort();
  assert.equal(shown.length, 3, shown.join('\n'));
  assert.match(shown[0]!, /^name \(line 1, column 1\): /);
  assert.match(shown[1]!, /^smtp\.port \(line 4, column 3\): /);
  assert.equal(shown[2], 'smtp.prot (line 5, column 3): unknown key');
  // A key the file does not have (a missing required one) has no position.
  const missing = parseYamlDocument('smtp: {}\n', 'm.yaml');
  const none = configError(() => locateErrors(missing.positionOf, () => validateDocument(Schema, missing.value, 'm.yaml')));
  assert.equal(formatFieldError(none.errors[0]!), 'name: required key is missing');
});

test('positions follow list indexes and keys that hold dots', () => {
  const { positionOf } = parseYamlDocument('domains:\n  example.com:\n    hosts:\n      - a\n      - b\n', 'd.yaml');
  assert.deepEqual(positionOf('domains.example.com.hosts.1'), { line: 5, column: 9 });
  assert.deepEqual(positionOf('domains.example.com'), { line: 2, column: 3 });
  assert.equal(positionOf('domains.example.org'), undefined);
  assert.equal(positionOf('domains.example.com.hosts.7'), undefined);
});

test('an alias to a missing anchor or an alias bomb is a ConfigError, not a ReferenceError (found by fuzzing)', () => {
  for (const text of ['a: *nowhere\n', `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(10).fill('*a').join(', ')}]\nc: &c [${Array(10).fill('*b').join(', ')}]\nd: [${Array(10).fill('*c').join(', ')}]\n`]) {
    assert.throws(
      () => parseYaml(text, 'aliases.yaml'),
      (err: unknown) => err instanceof ConfigError && err.source === 'aliases.yaml' && err.errors[0]?.key === '(root)' && /alias/i.test(err.errors[0].message),
    );
  }
});

test('a retired key is refused with what replaced it, at its key', () => {
  const schema = Type.Object({ name: Type.String(), old: RetiredKey('use `name` instead (docs/x.md)') }, { additionalProperties: false });
  assert.deepEqual(validateDocument(schema, { name: 'a' }, 'test.yaml'), { name: 'a' });
  const err = configError(() => validateDocument(schema, { name: 'a', old: { on: true } }, 'test.yaml'));
  assert.deepEqual(err.errors.map((e) => `${e.key}: ${e.message}`), ['old: use `name` instead (docs/x.md)']);
  const nested = Type.Object({ a: Type.Object({ old: RetiredKey('gone') }, { additionalProperties: false }) }, { additionalProperties: false });
  assert.deepEqual(configError(() => validateDocument(nested, { a: { old: 1 } }, 'test.yaml')).errors.map((e) => `${e.key}: ${e.message}`), ['a.old: gone']);
});
