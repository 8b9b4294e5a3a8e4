import type { Reason } from '@moat/rules';
import type { Category } from './settings-schema.ts';

/** Why a message was held, as one of the digest categories: the most dangerous reason decides. */
export function categoryOf(reasons: readonly Reason[]): Category {
  if (reasons.some((r) => r.kind === 'virus')) return 'virus';
  if (reasons.some((r) => r.kind === 'attachment' && r.action !== undefined && r.action !== 'deliver')) return 'attachment';
  return 'spam';
}

/** A short reason for people (the digest's "Why" column): the first reason that held it. */
export function describeReasons(reasons: readonly Reason[]): string {
  const holding = reasons.find((r) => r.action === 'quarantine' || r.action === 'reject') ?? reasons[0];
  if (!holding) return 'held by policy';
  switch (holding.kind) {
    case 'virus': return `virus found (${holding.match})`;
    case 'attachment': return `attachment not allowed (${holding.match})`;
    case 'score': return `spam score (${holding.match})`;
    case 'content': return `content rule ${holding.rule}`;
    case 'analyzer': return `${holding.rule} check`;
    default: return `${holding.kind} ${holding.rule}`;
  }
}
