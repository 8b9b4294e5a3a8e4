import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from 'typebox';
import { ConfigError, parseYaml, validateDocument } from './load-config.ts';

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

test('YAML syntax errors name the line', () => {
  assert.throws(() => parseYaml('a: 1\nb: [\n', 'x.yaml'), (err: unknown) => err instanceof ConfigError && /line/.test(err.message));
  assert.throws(() => parseYaml('a: 1\na: 2\n', 'x.yaml'), ConfigError);
});

test('an alias to a missing anchor or an alias bomb is a ConfigError, not a ReferenceError (found by fuzzing)', () => {
  for (const text of ['a: *nowhere\n', `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(10).fill('*a').join(', ')}]\nc: &c [${Array(10).fill('*b').join(', ')}]\nd: [${Array(10).fill('*c').join(', ')}]\n`]) {
    assert.throws(
      () => parseYaml(text, 'aliases.yaml'),
      (err: unknown) => err instanceof ConfigError && err.source === 'aliases.yaml' && err.errors[0]?.key === '(root)' && /alias/i.test(err.errors[0].message),
    );
  }
});
