/** Minimal `--key value` / `--flag` parsing: the CLI has few options and no dependency earns its place. */
export interface ParsedArgs {
  readonly command: string | undefined;
  readonly options: Readonly<Record<string, string | true>>;
  readonly rest: readonly string[];
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: Record<string, string | true> = {};
  const rest: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const [key, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      const next = argv[i + 1];
      if (inline !== undefined) options[key] = inline;
      else if (next !== undefined && !next.startsWith('--')) {
        options[key] = next;
        i++;
      } else options[key] = true;
    } else if (command === undefined) command = arg;
    else rest.push(arg);
  }
  return { command, options, rest };
}
