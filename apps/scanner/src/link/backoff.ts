/**
 * Reconnect delay: exponential from `baseMs` to `maxMs`, with full jitter so that scanners
 * cut off together do not all knock on the master at the same instant when it returns.
 */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}
