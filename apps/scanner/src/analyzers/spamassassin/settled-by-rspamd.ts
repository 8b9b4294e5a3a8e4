import type { EngineSignal } from '@moat/rules';

/** How sure Rspamd must be of good mail for SpamAssassin not to be asked (the detection model's `settledByRspamd`). */
export interface SettledByRspamd {
  /** Rspamd's Bayes must vote ham with at most these points (`BAYES_HAM`: −3 at its surest; no vote: never settled). */
  readonly bayesAtMost: number;
  /** Rspamd's other symbols (its score without Bayes and fuzzy) must add up to at most this. */
  readonly rulesAtMost: number;
}

/** Rspamd's points, as the detection model cuts them: its own rules, and its learned votes (absent: no vote). */
export interface RspamdPoints {
  readonly rules: number;
  readonly bayes?: number | undefined;
  readonly fuzzy?: number | undefined;
}

/**
 * Is the message good mail by Rspamd's answer alone, so that SpamAssassin need not be asked?
 * Only when Rspamd's trained Bayes votes ham at least as surely as `bayesAtMost`, its other
 * symbols stay at or under `rulesAtMost`, and no fuzzy hash of reported spam matched. Returns
 * the reason's detail (the points against the limits), or undefined: ask SpamAssassin. The
 * limits are the detection model's, measured on the calibration half (docs/detection.md).
 */
export function settledByRspamd(points: RspamdPoints, limits: SettledByRspamd): string | undefined {
  if (points.bayes === undefined || !Number.isFinite(points.bayes) || !Number.isFinite(points.rules)) return undefined;
  if ((points.fuzzy ?? 0) > 0) return undefined;
  if (points.bayes > limits.bayesAtMost || points.rules > limits.rulesAtMost) return undefined;
  return `settled by Rspamd: its Bayes ${points.bayes} ≤ ${limits.bayesAtMost} and its rules ${points.rules} ≤ ${limits.rulesAtMost}, SpamAssassin not asked`;
}

/** Rspamd's points from the signals its analyzer found (engineSignals' cut). */
export function rspamdPoints(signals: readonly EngineSignal[]): RspamdPoints | undefined {
  const of = (id: EngineSignal['id']) => signals.find((s) => s.id === id)?.raw;
  const rules = of('rspamd');
  return rules === undefined ? undefined : { rules, bayes: of('rspamd.bayes'), fuzzy: of('rspamd.fuzzy') };
}
