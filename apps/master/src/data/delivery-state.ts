import type { DeliveryStatus } from '@moat/protocol';
import { normalizeAddress } from './addresses.ts';

/** What the log keeps about a message's relay attempts. */
export interface DeliveryState {
  readonly status: string;
  readonly attempts: number;
  readonly lastAttemptAt: number | null;
  readonly delivered: readonly string[];
  readonly deferred: readonly string[];
  readonly bounced: readonly string[];
  readonly detail: string;
}

/**
 * Fold one `delivery.status` (kind message) into the state. Order-independent: recipients
 * delivered or bounced accumulate over attempts, and the "still deferred" list and detail come
 * from the highest attempt seen, so a late-arriving older attempt cannot undo a newer one.
 * The status is derived from the whole history (the scanner derives it from the last attempt
 * only, which calls "a delivered, then b bounced" bounced; here it is partially-bounced).
 */
export function foldDelivery(state: DeliveryState, ev: DeliveryStatus): DeliveryState {
  const delivered = union(state.delivered, ev.delivered);
  const bounced = union(state.bounced, ev.bounced);
  const newer = ev.attempt >= state.attempts;
  const deferred = (newer ? ev.deferred.map(normalizeAddress) : state.deferred).filter((a) => !delivered.includes(a) && !bounced.includes(a));
  return {
    status: deliveryStatus(delivered, deferred, bounced),
    attempts: Math.max(state.attempts, ev.attempt),
    lastAttemptAt: newer ? ev.at : state.lastAttemptAt,
    delivered,
    deferred,
    bounced,
    detail: newer ? ev.detail : state.detail,
  };
}

export function deliveryStatus(delivered: readonly string[], deferred: readonly string[], bounced: readonly string[]): string {
  if (deferred.length > 0) return 'deferred';
  if (bounced.length === 0) return 'delivered';
  return delivered.length === 0 ? 'bounced' : 'partially-bounced';
}

/** The fate of a DSN the scanner sent about this message (to its sender). */
export function dsnStatus(ev: DeliveryStatus): string {
  if (ev.deferred.length > 0) return 'deferred';
  return ev.bounced.length > 0 ? 'bounced' : 'delivered';
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b.map(normalizeAddress)])];
}
