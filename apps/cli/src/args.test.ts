import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandHelp, parseCommandLine, UsageError, type CommandSpec } from './args.ts';
import { COMMANDS } from './commands.ts';

const TABLE = [
  {
    name: 'scan',
    summary: 'scan things',
    options: {
      config: { type: 'string', value: 'FILE', required: true, description: 'the config' },
      set: { type: 'string', value: 'KEY=VALUE', multiple: true, description: 'an override' },
      'print-config': { type: 'boolean', description: 'print it' },
      user: { type: 'string', value: 'NAME', description: 'a user' },
    },
  },
  { name: 'scan again', summary: 'scan twice', options: { config: { type: 'string', value: 'FILE', required: true, description: 'the config' } } },
  { name: 'pool add', summary: 'add to the pool', operands: [{ name: 'NAME', description: 'what' }], options: {} },
  { name: 'pool drop', summary: 'drop from the pool', operands: [{ name: 'NAME', description: 'what' }], options: {} },
  { name: 'copy', summary: 'copy a role', operands: [{ name: 'ROLE', description: 'which', choices: ['a', 'b'] }], options: {} },
] as const satisfies readonly CommandSpec[];

function run(argv: string[]) {
  const line = parseCommandLine(argv, TABLE);
  assert.equal(line.kind, 'run');
  return line.kind === 'run' ? line.command : assert.fail();
}

function usageError(argv: string[], message: RegExp): UsageError {
  let caught: unknown;
  try {
    parseCommandLine(argv, TABLE);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UsageError, `${argv.join(' ')}: expected a UsageError, got ${String(caught)}`);
  assert.match(caught.message, message);
  return caught;
}

test('typed options: strings, flags defaulting to false, repeated --set in order (with = in the value)', () => {
  const c = run(['scan', '--config', 'a.yaml', '--set', 'smtp.listen.port=0', '--set=dataDir=/tmp/x', '--print-config']);
  assert.equal(c.name, 'scan');
  assert.deepEqual(c.values, { config: 'a.yaml', set: ['smtp.listen.port=0', 'dataDir=/tmp/x'], 'print-config': true, user: undefined });
  assert.deepEqual(run(['scan', '--config=x=y']).values, { config: 'x=y', set: [], 'print-config': false, user: undefined });
});

test('a subcommand is its own entry; operands are checked against their choices', () => {
  assert.deepEqual(run(['scan', 'again', '--config', 'c']), { name: 'scan again', values: { config: 'c' }, operands: [] });
  assert.deepEqual(run(['copy', 'b']).operands, ['b']);
  usageError(['copy'], /^copy needs ROLE: a or b$/);
  usageError(['copy', 'c'], /unknown ROLE 'c' \(expected a or b\)/);
  usageError(['copy', 'a', 'b'], /unexpected argument 'b'/);
  usageError(['scan', '--config', 'c', 'again'], /'again' goes right after 'scan'/);
});

test('a word that only groups subcommands: its help lists them, alone it is a usage error naming them', () => {
  assert.deepEqual(run(['pool', 'add', 'x']), { name: 'pool add', values: {}, operands: ['x'] });
  for (const argv of [['pool', '--help'], ['pool', '-h'], ['help', 'pool']]) {
    const line = parseCommandLine(argv, TABLE);
    assert.ok(line.kind === 'help' && line.text.startsWith('usage: moat pool add NAME\n       moat pool drop NAME\n'), argv.join(' '));
  }
  usageError(['pool'], /^pool needs a subcommand: add, drop$/);
  const err = usageError(['pool', 'fill'], /^pool: unknown subcommand 'fill' \(expected add, drop\)$/);
  assert.match(err.help, /pool drop +drop from the pool/);
});

test('help and version are answers, not runs', () => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const line = parseCommandLine(argv, TABLE);
    assert.equal(line.kind, 'help');
    if (line.kind === 'help') assert.match(line.text, /^usage: moat COMMAND/);
  }
  for (const argv of [['scan', '--help'], ['scan', '-h'], ['help', 'scan'], ['scan', '--config', 'x', '--help']]) {
    const line = parseCommandLine(argv, TABLE);
    assert.ok(line.kind === 'help' && line.text.startsWith('usage: moat scan --config FILE [--set KEY=VALUE]... [--print-config] [--user NAME]'), argv.join(' '));
    if (line.kind === 'help') assert.match(line.text, /scan again\s+scan twice/);
  }
  // --help wins over a missing required option.
  assert.equal(parseCommandLine(['scan', 'again', '--help'], TABLE).kind, 'help');
  assert.deepEqual(parseCommandLine(['--version'], TABLE), { kind: 'version' });
});

test('bad command lines are usage errors that name the problem', () => {
  usageError([], /^missing command$/);
  usageError(['nosuch'], /^unknown command 'nosuch'$/);
  usageError(['help', 'nosuch'], /^unknown command 'nosuch'$/);
  usageError(['--verbose'], /^unknown option '--verbose'/);
  usageError(['scan', '--config', 'c', '--bogus'], /^unknown option '--bogus' for 'scan'$/);
  usageError(['scan', '--config', 'c', '-x'], /^unknown option '-x' for 'scan'$/);
  usageError(['scan'], /^scan needs --config FILE$/);
  usageError(['scan', '--config'], /^option '--config' needs a value$/);
  usageError(['scan', '--config', 'c', '--print-config=yes'], /^option '--print-config' takes no value$/);
  const err = usageError(['scan', '--bogus'], /bogus/);
  assert.match(err.help, /^usage: moat scan /, "the command's own usage goes with its error");
});

test("the real table: every command's help lists each option with a description, and the README names every command", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
  for (const spec of COMMANDS as readonly CommandSpec[]) {
    const help = commandHelp(spec, COMMANDS);
    for (const [name, o] of Object.entries(spec.options)) {
      assert.ok(o.description.length > 0, `${spec.name} --${name} has no description`);
      assert.match(help, new RegExp(`--${name}\\b`), `${spec.name} help lists --${name}`);
    }
    assert.ok(readme.includes(`moat ${spec.name}`), `README.md names 'moat ${spec.name}'`);
  }
});
