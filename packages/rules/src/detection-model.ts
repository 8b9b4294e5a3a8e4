/**
 * Moat's detection model: how the spam engines' answers weigh on Moat's one score scale. Not a
 * spam filter of its own: a few weights over what SpamAssassin and Rspamd say, split so that
 * each engine's learned vote (Bayes, fuzzy hashes) weighs apart from its static rules.
 * Versioned apart from the rules (a rules change never changes it, and every verdict's
 * reasons name the model version). Calibrated with test/bench/calibrate-detection.ts on the
 * calibration half of the allowed corpus; see docs/detection.md.
 */

export const SIGNAL_IDS = ['spamassassin', 'spamassassin.bayes', 'rspamd', 'rspamd.bayes', 'rspamd.fuzzy'] as const;
export type SignalId = (typeof SIGNAL_IDS)[number];
export type Engine = 'spamassassin' | 'rspamd';

export interface DetectionModel {
  readonly version: string;
  /** Each signal's raw score (the engine's points) times this is its share of Moat's score. */
  readonly weights: Readonly<Record<SignalId, number>>;
  /**
   * When Rspamd alone settles a message as good mail, SpamAssassin (the costly engine) is not
   * asked (`analyzers.spamassassin.skipWhenRspamdSure`): Rspamd's Bayes votes ham with at most
   * `bayesAtMost` points, its other symbols add up to at most `rulesAtMost`, no fuzzy match.
   */
  readonly settledByRspamd: { readonly bayesAtMost: number; readonly rulesAtMost: number };
}

/**
 * Calibrated 2026-12-06 (docs/detection.md, "How it was calibrated"): `pnpm bench:detection
 * --calibrate` on the calibration half, then `node test/bench/calibrate-detection.ts`: the
 * fewest missed spam plus ten times the flagged ham (a good message held back is worse than ten
 * missed spams, as admins judge it), a ham counting as flagged once it comes within 1 point of the
 * tag threshold, at most 0.5% ham in each state, untrained and trained. SpamAssassin's BAYES_50
 * (it cannot tell) counts nothing. Both Bayes votes carry the verdict after learning, each engine's
 * rules weigh in about equally, and a fuzzy match of mail reported as spam (none in the
 * calibration data) counts as Rspamd scores it. With these weights, Rspamd settles good mail
 * without SpamAssassin under the limits of `settledByRspamd`, measured on the same data with
 * no verdict changed (nor with both limits 2 points looser).
 */
export const DETECTION_MODEL: DetectionModel = {
  version: '2026-12-06.2',
  weights: { spamassassin: 0.42, 'spamassassin.bayes': 1.8, rspamd: 0.34, 'rspamd.bayes': 0.8, 'rspamd.fuzzy': 1 },
  settledByRspamd: { bayesAtMost: -2, rulesAtMost: 6.5 },
};

/** One rule or symbol an engine reported, with its points. */
export interface EngineHit {
  readonly name: string;
  readonly score: number;
}

/** One engine answer cut into the signals the model weighs: the learned votes apart, the rest as the engine's own signal. */
export interface EngineSignal {
  readonly id: SignalId;
  /** The engine's points for this signal. */
  readonly raw: number;
  readonly hits: readonly EngineHit[];
}

const LEARNED: Record<Engine, readonly { id: SignalId; test: RegExp; neutral?: RegExp }[]> = {
  // SpamAssassin's Bayes rules: BAYES_00 … BAYES_999. BAYES_50 (a spam probability of 40 to 60%)
  // is Bayes saying it cannot tell: no evidence either way, so it counts nothing. SpamAssassin
  // itself gives it points that depend on its score set (2.0 with network tests off, 0.8 on).
  spamassassin: [{ id: 'spamassassin.bayes', test: /^BAYES_\d+$/, neutral: /^BAYES_50$/ }],
  // Rspamd's Bayes classifier and its fuzzy storage (the stock FUZZY_* and Moat's LOCAL_FUZZY_*).
  rspamd: [
    { id: 'rspamd.bayes', test: /^BAYES_(SPAM|HAM)$/ },
    { id: 'rspamd.fuzzy', test: /^(LOCAL_)?FUZZY_/ },
  ],
};

/**
 * The engine's total cut into signals: each learned vote's points (only when it fired), and the
 * rest of the total as the engine's own signal. The parts add up to `total`, less the points of
 * a vote that cannot tell (SpamAssassin's BAYES_50), which count nothing.
 */
export function engineSignals(engine: Engine, total: number, hits: readonly EngineHit[]): EngineSignal[] {
  const learned: EngineSignal[] = [];
  let rest = total;
  for (const { id, test, neutral } of LEARNED[engine]) {
    const mine = hits.filter((h) => test.test(h.name) && Number.isFinite(h.score));
    if (mine.length === 0) continue;
    rest -= mine.reduce((s, h) => s + h.score, 0);
    const raw = round(mine.filter((h) => !neutral?.test(h.name)).reduce((s, h) => s + h.score, 0));
    learned.push({ id, raw, hits: mine });
  }
  const own = hits.filter((h) => !LEARNED[engine].some(({ test }) => test.test(h.name)));
  return [{ id: engine, raw: round(rest), hits: own }, ...learned];
}

/** A signal's share of Moat's score: its points times its weight (the admin's `scoreWeight` for the engine, when set, replaces the model's). */
export function weighSignal(model: DetectionModel, signal: EngineSignal, override?: number): number {
  return round(signal.raw * (override ?? model.weights[signal.id]));
}

/** The hits that weigh most, strongest first, as `NAME(score)`; when none weighs (GTUBE, a pre-filter), the first ones. */
export function strongestHits(hits: readonly EngineHit[], max: number): string[] {
  const weighing = hits.filter((h) => h.score !== 0).sort((a, b) => Math.abs(b.score) - Math.abs(a.score));
  return (weighing.length > 0 ? weighing : hits).slice(0, max).map((h) => `${h.name}(${h.score})`);
}

const round = (n: number) => Math.round(n * 1000) / 1000;
