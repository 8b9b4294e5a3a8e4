/** Pieces every smtp-source benchmark entry script shares: option checks, picking, progress lines. */

/** An integer option at least `min`, or an error naming the option. */
export function intOption(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${value}`);
  return n;
}

/** The entries named in a comma-separated list, in the list's order; an unknown name is an error. */
export function pickByKeys<T extends { key: string }>(list: readonly T[], wanted: string, what: string): T[] {
  const keys = wanted.split(',').map((s) => s.trim()).filter(Boolean);
  for (const k of keys) if (!list.some((x) => x.key === k)) throw new Error(`unknown ${what} "${k}" (known: ${list.map((x) => x.key).join(', ')})`);
  return keys.map((k) => list.find((x) => x.key === k) as T);
}

/** A progress line on stderr, stamped with the time of day. */
export function benchLog(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** The envelope smtp-source and the latency client use for every load message. */
export const LOAD_ENVELOPE = { from: 'loadgen@client.localhost', to: 'rcpt@example.test', helo: 'client.localhost' } as const;
