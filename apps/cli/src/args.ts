import { parseArgs, type ParseArgsOptionDescriptor } from 'node:util';

/**
 * The command line, read by node:util's parseArgs (strict) from a table of commands that each
 * declare their options; help is generated from the same table, so it cannot drift from what
 * is accepted. How to add a command: apps/cli/README.md.
 */

/** One `--name` option of a command. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly description: string;
  /** The value's placeholder in help (`FILE`, `DIR`, `N`); string options only. */
  readonly value?: string;
  /** Given any number of times (`--set A=1 --set B=2`): the value is the list, in order. */
  readonly multiple?: boolean;
  /** Missing is a usage error naming it, and the value is typed as present. */
  readonly required?: boolean;
}

/** A word after the command (`moat backup master`). */
export interface OperandSpec {
  readonly name: string;
  readonly description: string;
  /** The accepted words; anything else is a usage error listing them. */
  readonly choices?: readonly string[];
}

export interface CommandSpec {
  /** One word, or a command and its subcommand (`master reset-password`). */
  readonly name: string;
  readonly summary: string;
  readonly operands?: readonly OperandSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Lines at the end of the command's help (environment variables, examples). */
  readonly notes?: readonly string[];
}

type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean' ? boolean : O['multiple'] extends true ? string[] : string;

/** Booleans default to false and repeatable options to []; other options are absent unless required. */
export type OptionValues<Os extends Readonly<Record<string, OptionSpec>>> = {
  readonly [K in keyof Os]: Os[K] extends { type: 'boolean' } | { multiple: true } | { required: true } ? ValueOf<Os[K]> : ValueOf<Os[K]> | undefined;
};

/** What `moat NAME …` asked for, typed by the command's own option table (a union over the table, discriminated by `name`). */
export type Invocation<T extends readonly CommandSpec[]> = {
  [I in keyof T]: { readonly name: T[I]['name']; readonly values: OptionValues<T[I]['options']>; readonly operands: readonly string[] };
}[number];

export type CommandLine<T extends readonly CommandSpec[]> =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly command: Invocation<T> };

/** A command line that cannot be run: print `moat: message`, then `help`, on stderr; exit 2. */
export class UsageError extends Error {
  readonly code = 'MOAT_ERR_USAGE';
  readonly help: string;
  constructor(message: string, help: string) {
    super(message);
    this.name = 'UsageError';
    this.help = help;
  }
}

const HELP_OPTION: OptionSpec = { type: 'boolean', description: 'print this help and exit' };

export function parseCommandLine<const T extends readonly CommandSpec[]>(argv: readonly string[], table: T, notes: readonly string[] = []): CommandLine<T> {
  const root = rootHelp(table, notes);
  const [first, second] = argv;
  if (first === undefined) throw new UsageError('missing command', root);
  if (first === '--help' || first === '-h' || first === 'help') {
    if (first !== 'help' || second === undefined) return { kind: 'help', text: root };
    const named = table.find((c) => c.name === argv.slice(1).join(' ')) ?? table.find((c) => c.name === second);
    if (named) return { kind: 'help', text: commandHelp(named, table) };
    const group = table.filter((c) => c.name.startsWith(`${second} `));
    if (group.length === 0) throw new UsageError(`unknown command '${second}'`, root);
    return { kind: 'help', text: groupHelp(second, group) };
  }
  if (first === '--version') return { kind: 'version' };
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}' (options follow the command)`, root);

  const sub = second === undefined ? undefined : table.find((c) => c.name === `${first} ${second}`);
  const spec = sub ?? table.find((c) => c.name === first);
  if (!spec) {
    // A word that only groups subcommands (`moat node drain|undrain|remove`): its own help lists them.
    const group = table.filter((c) => c.name.startsWith(`${first} `));
    if (group.length === 0) throw new UsageError(`unknown command '${first}'`, root);
    const help = groupHelp(first, group);
    if (second === '--help' || second === '-h') return { kind: 'help', text: help };
    const words = group.map((c) => c.name.slice(first.length + 1));
    throw new UsageError(second === undefined ? `${first} needs a subcommand: ${words.join(', ')}` : `${first}: unknown subcommand '${second}' (expected ${words.join(', ')})`, help);
  }
  const help = commandHelp(spec, table);
  const options: Record<string, ParseArgsOptionDescriptor> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}) };

  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv.slice(sub ? 2 : 1), options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(describeParseError(err, spec.name), help);
  }
  if (parsed.values.help === true) return { kind: 'help', text: help };

  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const given = parsed.values[name];
    if (given === undefined && o.required) throw new UsageError(`${spec.name} needs --${name}${o.value ? ` ${o.value}` : ''}`, help);
    values[name] = given ?? (o.type === 'boolean' ? false : o.multiple ? [] : undefined);
  }
  const operands = spec.operands ?? [];
  for (const [i, operand] of operands.entries()) {
    const word = parsed.positionals[i];
    const choices = operand.choices ? `: ${operand.choices.join(' or ')}` : '';
    if (word === undefined) throw new UsageError(`${spec.name} needs ${operand.name}${choices}`, help);
    if (operand.choices && !operand.choices.includes(word)) throw new UsageError(`${spec.name}: unknown ${operand.name} '${word}' (expected ${operand.choices.join(' or ')})`, help);
  }
  const extra = parsed.positionals[operands.length];
  if (extra !== undefined) {
    const misplaced = table.find((c) => c.name === `${spec.name} ${extra}`);
    throw new UsageError(misplaced ? `'${extra}' goes right after '${spec.name}': moat ${misplaced.name} …` : `${spec.name}: unexpected argument '${extra}'`, help);
  }
  return { kind: 'run', command: { name: spec.name, values, operands: parsed.positionals } as Invocation<T> };
}

/** parseArgs' own messages are long and suggest `--`; name the option and the command instead. */
function describeParseError(err: unknown, command: string): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `unknown option '${quoted}' for '${command}'`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    const name = quoted.split(' ')[0]!;
    return /does not take an argument/.test(message) ? `option '${name}' takes no value` : `option '${name}' needs a value`;
  }
  if (code?.startsWith('ERR_PARSE_ARGS_')) return message.split('.')[0] ?? message;
  throw err;
}

/** `--config FILE`, `[--print-config]`, `[--set KEY=VALUE]...`. */
function optionSynopsis(name: string, o: OptionSpec): string {
  const word = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return o.required ? word : `[${word}]${o.multiple ? '...' : ''}`;
}

export function synopsis(spec: CommandSpec): string {
  const operands = (spec.operands ?? []).map((o) => (o.choices ? o.choices.join('|') : o.name));
  const options = Object.entries(spec.options).map(([name, o]) => optionSynopsis(name, o));
  return ['moat', spec.name, ...operands, ...options].join(' ');
}

function columns(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length)) + 3;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`.trimEnd());
}

export function rootHelp(table: readonly CommandSpec[], notes: readonly string[] = []): string {
  return [
    'usage: moat COMMAND [OPTIONS]',
    '',
    'commands:',
    ...columns(table.map((c) => [c.name, c.summary])),
    '',
    ...columns([
      ['moat COMMAND --help', "a command's options"],
      ['moat --help, moat help [COMMAND]', 'this help, or a command\'s'],
      ['moat --version', 'print the version'],
    ]),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
}

/** `moat node --help`: the subcommands of a word that is not a command itself. */
export function groupHelp(word: string, group: readonly CommandSpec[]): string {
  return [
    ...group.map((c, i) => `${i === 0 ? 'usage: ' : '       '}${synopsis(c)}`),
    '',
    'subcommands:',
    ...columns(group.map((c) => [c.name, c.summary])),
    '',
    `moat ${word} SUBCOMMAND --help: its options`,
  ].join('\n');
}

export function commandHelp(spec: CommandSpec, table: readonly CommandSpec[] = []): string {
  const subcommands = table.filter((c) => c.name.startsWith(`${spec.name} `));
  const operands = spec.operands ?? [];
  const options = [...Object.entries(spec.options), ['help', HELP_OPTION] as const];
  return [
    `usage: ${synopsis(spec)}`,
    ...subcommands.map((c) => `       ${synopsis(c)}`),
    '',
    spec.summary,
    ...(subcommands.length > 0 ? ['', 'subcommands:', ...columns(subcommands.map((c) => [c.name, c.summary]))] : []),
    ...(operands.length > 0 ? ['', 'arguments:', ...columns(operands.map((o) => [o.choices ? o.choices.join('|') : o.name, o.description]))] : []),
    '',
    'options:',
    ...columns(options.map(([name, o]) => [`${name === 'help' ? '-h, ' : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`, `${o.description}${o.multiple ? ' (repeatable)' : ''}`])),
    ...(spec.notes && spec.notes.length > 0 ? ['', ...spec.notes] : []),
  ].join('\n');
}
