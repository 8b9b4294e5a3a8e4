import type { FailedRecipient } from './dsn.ts';
import { statusFromReply } from './dsn.ts';

/** What downstream said about each recipient of one attempt. */
export interface AttemptResult {
  readonly accepted: readonly string[];
  /** Per-recipient refusals; `code` is absent for connection-level failures. */
  readonly refused: readonly { readonly address: string; readonly code?: number | undefined; readonly text: string }[];
}

export interface AttemptOutcome {
  readonly delivered: readonly string[];
  readonly deferred: readonly string[];
  readonly bounced: readonly FailedRecipient[];
  readonly nextAttemptAt: number;
  readonly error: string;
}

export interface RetryPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxAgeMs: number;
}

/**
 * Decide the fate of each recipient after an attempt: 5xx bounces, 4xx or no answer is
 * retried with exponential backoff (with jitter, so a recovered downstream is not hit by
 * the whole queue at once) until the message is older than the maximum queue age.
 */
export function planOutcome(
  result: AttemptResult,
  entry: { readonly createdAt: number; readonly attempts: number },
  policy: RetryPolicy,
  now: number,
  random: () => number = Math.random,
): AttemptOutcome {
  const expired = now - entry.createdAt >= policy.maxAgeMs;
  const deferred: string[] = [];
  const bounced: FailedRecipient[] = [];
  for (const r of result.refused) {
    const permanent = r.code !== undefined && r.code >= 500;
    if (permanent) bounced.push({ address: r.address, status: statusFromReply(r.code, r.text), diagnostic: r.text });
    else if (expired) bounced.push({ address: r.address, status: '4.4.7', diagnostic: `Delivery time expired; last error: ${r.text}` });
    else deferred.push(r.address);
  }
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** entry.attempts);
  const jittered = delay * (0.8 + 0.4 * random());
  return {
    delivered: result.accepted,
    deferred,
    bounced,
    nextAttemptAt: now + Math.round(jittered),
    error: result.refused.map((r) => `${r.address}: ${r.text}`).join('; '),
  };
}
