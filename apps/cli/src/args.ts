/** Minimal `--key value` / `--flag` parsing: the CLI has few options and no dependency earns its place. */
export interface ParsedArgs {
  readonly command: string | undefined;
  readonly options: Readonly<Record<string, string | true>>;
  readonly rest: readonly string[];
  /** Every `--set KEY=VALUE`, in order (the one repeatable option: config overrides). */
  readonly sets: readonly string[];
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: Record<string, string | true> = {};
  const rest: string[] = [];
  const sets: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const body = arg.slice(2);
      const eq = body.indexOf('=');
      const key = eq < 0 ? body : body.slice(0, eq);
      const inline = eq < 0 ? undefined : body.slice(eq + 1);
      const next = argv[i + 1];
      if (key === 'set') {
        const value = inline ?? argv[++i];
        if (value !== undefined) sets.push(value);
      } else if (inline !== undefined) options[key] = inline;
      else if (next !== undefined && !next.startsWith('--')) {
        options[key] = next;
        i++;
      } else options[key] = true;
    } else if (command === undefined) command = arg;
    else rest.push(arg);
  }
  return { command, options, rest, sets };
}
