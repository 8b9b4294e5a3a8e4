import type { Reason } from './facts.ts';
import type { QuarantineLifetime } from './schema.ts';

/** The kinds of held mail with a lifetime of their own (`quarantine.days`). */
export type QuarantineKind = 'spam' | 'virus' | 'policy';

const DAY_MS = 86_400_000;

/**
 * Why a message was held, as one of the lifetime kinds: a virus wins; then a reason that asked
 * for the quarantine (or a reject: an analysis limit holds such mail too) and is not the spam
 * score or a spam engine is policy (an attachment, a content rule, a list, the size, an
 * analyzer's policy such as clamd's macro heuristic or DMARC); anything else is spam.
 */
export function quarantineKind(reasons: readonly Pick<Reason, 'kind' | 'rule' | 'action'>[]): QuarantineKind {
  if (reasons.some((r) => r.kind === 'virus')) return 'virus';
  const holding = reasons.filter((r) => r.action === 'quarantine' || r.action === 'reject');
  const spam = (r: Pick<Reason, 'kind' | 'rule'>) => r.kind === 'score' || /^(rspamd|spamassassin|gtube|dnsbl|uribl)(\.|$)/.test(r.rule);
  if (holding.length > 0 && holding.every(spam)) return 'spam';
  if (holding.some((r) => !spam(r))) return 'policy';
  return 'spam';
}

/** When a held message expires: its arrival plus its kind's days. */
export function quarantineExpiresAt(settings: QuarantineLifetime, createdAt: number, reasons: readonly Pick<Reason, 'kind' | 'rule' | 'action'>[]): number {
  return createdAt + settings.days[quarantineKind(reasons)] * DAY_MS;
}
