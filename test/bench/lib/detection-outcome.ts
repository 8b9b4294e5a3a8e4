/**
 * Pure reading of one message's result in the detection benchmark: Moat's verdict and, from the
 * reasons Moat recorded, what each engine alone would have said in the same pass.
 */

export interface Reason {
  readonly kind: string;
  readonly rule: string;
  readonly match: string;
  readonly score?: number;
  readonly action?: string;
}

export interface Outcome {
  readonly id: string;
  readonly spam: boolean;
  /** Moat's action: deliver, tag, quarantine, reject. */
  readonly action: string;
  readonly score: number;
  /** SpamAssassin's own score and threshold (undefined: it did not answer). */
  readonly sa?: { readonly score: number; readonly required: number };
  /** Rspamd's own score and action. */
  readonly rspamd?: { readonly score: number; readonly action: string };
  /** Each reason's contribution to Moat's score, by rule id (for calibration and the report). */
  readonly contributions: Readonly<Record<string, number>>;
  /** SpamAssassin was not asked (`spamassassin.skipped`: settled by Rspamd, or over its size limit). */
  readonly saSkipped?: boolean;
  /** Every reason as the scanner logged it (for `--verdicts`: why a message was judged as it was). */
  readonly reasons: readonly Reason[];
}

/** Moat flags a message when it does anything but deliver it. */
export const moatFlags = (o: Outcome): boolean => o.action !== 'deliver';
/** SpamAssassin alone flags at its own required score (5 by default). */
export const saFlags = (o: Outcome): boolean => o.sa !== undefined && o.sa.score >= o.sa.required;
/** Rspamd alone flags by its own actions: anything but `no action` and `greylist`. */
export const rspamdFlags = (o: Outcome): boolean => o.rspamd !== undefined && o.rspamd.action !== 'no action' && o.rspamd.action !== 'greylist';

export function readOutcome(id: string, spam: boolean, row: { action: string; score: number; reasons: string }): Outcome {
  const reasons = JSON.parse(row.reasons) as Reason[];
  const contributions: Record<string, number> = {};
  let sa: Outcome['sa'];
  let rspamd: Outcome['rspamd'];
  for (const r of reasons) {
    if (typeof r.score === 'number') contributions[r.rule] = (contributions[r.rule] ?? 0) + r.score;
    const engine = /score (-?[\d.]+)\/(-?[\d.]+)/.exec(r.match);
    if (r.rule === 'spamassassin' && engine) sa = { score: Number(engine[1]), required: Number(engine[2]) };
    if (r.rule === 'rspamd' && engine) rspamd = { score: Number(engine[1]), action: /^([a-z ]+),/.exec(r.match)?.[1] ?? 'unknown' };
  }
  const saSkipped = reasons.some((r) => r.rule === 'spamassassin.skipped');
  return { id, spam, action: row.action, score: row.score, ...(sa ? { sa } : {}), ...(rspamd ? { rspamd } : {}), contributions, ...(saSkipped ? { saSkipped } : {}), reasons };
}

export interface Rates {
  readonly spam: number;
  readonly ham: number;
  /** Share of spam flagged, in percent. */
  readonly caught: number;
  /** Share of ham flagged, in percent. */
  readonly falsePositive: number;
}

export function rates(outcomes: readonly Outcome[], flags: (o: Outcome) => boolean): Rates {
  const spam = outcomes.filter((o) => o.spam);
  const ham = outcomes.filter((o) => !o.spam);
  const pct = (part: number, all: number) => (all === 0 ? 0 : (100 * part) / all);
  return { spam: spam.length, ham: ham.length, caught: pct(spam.filter(flags).length, spam.length), falsePositive: pct(ham.filter(flags).length, ham.length) };
}
