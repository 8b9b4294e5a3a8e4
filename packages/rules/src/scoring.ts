import type { MessageFacts, Reason } from './facts.ts';
import type { Action, Rules } from './schema.ts';
import { clip } from './text.ts';
import { isAction } from './action.ts';

const MAX_SCORE = 1000;

/** One reason per score another analyzer reported (spam engine, SPF/DKIM/DMARC…). */
export function analyzerReasons(facts: MessageFacts): Reason[] {
  return (facts.extraScores ?? []).map((s) => {
    const reason: Reason = { kind: 'analyzer', rule: clip(s.id), match: clip(s.detail), score: boundedScore(s.score) };
    // Only an action that holds mail back counts: an analyzer can never ask for `deliver`.
    return isAction(s.action) && s.action !== 'deliver' ? { ...reason, action: s.action } : reason;
  });
}

/**
 * Sum the scores of the reasons so far and map the sum to an action by the thresholds.
 * The sum is rounded to thousandths so that 0.1 + 0.2 meets a threshold of 0.3.
 */
export function totalScore(reasons: readonly Reason[]): number {
  const sum = reasons.reduce((acc, r) => acc + boundedScore(r.score), 0);
  return Math.round(sum * 1000) / 1000;
}

export function scoreAction(score: number, thresholds: Rules['scoring']): Action {
  if (score >= thresholds.reject) return 'reject';
  if (score >= thresholds.quarantine) return 'quarantine';
  if (score >= thresholds.tag) return 'tag';
  return 'deliver';
}

/** The scoring stage's reason, when the score reaches a threshold; it carries no score of its own. */
export function scoreReason(score: number, thresholds: Rules['scoring']): Reason[] {
  const action = scoreAction(score, thresholds);
  if (action === 'deliver') return [];
  return [{ kind: 'score', rule: 'scoring', match: `score ${score} reaches ${action} threshold ${thresholds[action]}`, action }];
}

/**
 * A score as the rules allow it (-1000 to 1000, like a content rule's). A score that is not a
 * finite number counts as 0, and a huge one is capped, so that no analyzer can poison the sum.
 */
export function boundedScore(value: number | undefined): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 0;
  return Math.min(MAX_SCORE, Math.max(-MAX_SCORE, value));
}
