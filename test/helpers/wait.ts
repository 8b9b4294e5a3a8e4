/** Polling with a deadline: for conditions that become true "soon", never a guessed sleep. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once `condition()` is truthy (polled every `intervalMs`); rejects naming `what`
 * after `timeoutMs`. The condition may be async.
 */
export async function waitUntil(condition: () => unknown, what: string, timeoutMs = 10_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`time-out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** `promise`'s value, or 'timed-out' after `ms` (the timer is cleared either way). */
export async function orTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timed-out'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'timed-out'>((resolve) => (timer = setTimeout(() => resolve('timed-out'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
