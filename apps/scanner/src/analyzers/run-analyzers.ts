import type { Logger } from 'pino';
import type { MessageFacts } from '@moat/rules';
import type { Analyzer, AnalyzerInput, Findings } from './analyzer.ts';

/** Everything the analyzers found about one message, merged; `tempFail` names an engine whose policy is 451. */
export interface AnalyzerOutcome {
  readonly virus?: MessageFacts['virus'];
  readonly auth?: MessageFacts['auth'];
  readonly extraScores: NonNullable<MessageFacts['extraScores']>;
  readonly headers: readonly string[];
  readonly holds: readonly { readonly rule: string; readonly detail: string }[];
  readonly tempFail?: { readonly analyzer: string; readonly detail: string };
}

/**
 * Run the analyzers side by side, each bounded by its own time-out (its signal aborts and its
 * answer is no longer waited for). One with `after` starts when the analyzer it names has
 * answered, and is skipped when that answer settles the message (its `skipWhen`): the reason
 * `<name>.skipped` (score 0) says why. A failure or time-out applies the analyzer's stated
 * fallback and is logged as ANALYZER_UNAVAILABLE; with `pass` it is also recorded as a reason
 * (`<name>.unavailable`, score 0) so the message log shows what was not checked.
 */
export async function runAnalyzers(analyzers: readonly Analyzer[], input: AnalyzerInput, log: Logger): Promise<AnalyzerOutcome> {
  const started = new Map<string, Promise<RunResult>>();
  for (const a of analyzers) if (!a.after) started.set(a.name, runOne(a, input));
  const results = await Promise.all(analyzers.map((a) => started.get(a.name) ?? runAfter(a, started.get(a.after!.analyzer), input)));
  const extraScores: { id: string; score: number; detail: string }[] = [];
  const headers: string[] = [];
  const holds: { rule: string; detail: string }[] = [];
  let virus: MessageFacts['virus'];
  let auth: MessageFacts['auth'];
  let tempFail: AnalyzerOutcome['tempFail'];
  analyzers.forEach((analyzer, i) => {
    const r = results[i]!;
    if ('skipped' in r) {
      extraScores.push({ id: `${analyzer.name}.skipped`, score: 0, detail: r.skipped });
      return;
    }
    if ('failed' in r) {
      log.warn({ event: 'ANALYZER_UNAVAILABLE', analyzer: analyzer.name, timedOut: r.timedOut, fallback: analyzer.fallback.policy, detail: r.failed }, `${analyzer.name} unavailable`);
      if (analyzer.fallback.policy === 'temp-fail') tempFail ??= { analyzer: analyzer.name, detail: r.failed };
      headers.push(...(analyzer.fallback.headers ?? []));
      extraScores.push({ id: `${analyzer.name}.unavailable`, score: 0, detail: r.failed });
      return;
    }
    const f: Findings = r.findings;
    if (f.virus) {
      virus ??= f.virus;
      log.info({ event: 'VIRUS_FOUND', analyzer: analyzer.name, virus: f.virus.name, action: f.virus.action }, 'virus found');
    }
    auth ??= f.auth;
    extraScores.push(...(f.extraScores ?? []));
    headers.push(...(f.headers ?? []));
    if (f.hold) holds.push(f.hold);
  });
  return { virus, auth, extraScores, headers, holds, tempFail };
}

type RunResult = { findings: Findings } | { failed: string; timedOut: boolean } | { skipped: string };

/** Wait for the earlier analyzer's answer (none configured: at once); skip when it settles the message, else run. */
async function runAfter(analyzer: Analyzer, earlier: Promise<RunResult> | undefined, input: AnalyzerInput): Promise<RunResult> {
  const first = await earlier;
  let settled: string | undefined;
  try {
    settled = first && 'findings' in first ? analyzer.after!.skipWhen(first.findings) : undefined;
  } catch {
    settled = undefined; // a rule that cannot read the answer settles nothing
  }
  return settled === undefined ? runOne(analyzer, input) : { skipped: settled };
}

async function runOne(analyzer: Analyzer, input: AnalyzerInput): Promise<RunResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<RunResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`${analyzer.name} timed out`));
      resolve({ failed: `no answer within ${analyzer.timeoutMs} ms`, timedOut: true });
    }, analyzer.timeoutMs);
  });
  const work = analyzer.run(input, controller.signal).then(
    (findings): RunResult => ({ findings }),
    (err: unknown): RunResult => ({ failed: err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200), timedOut: controller.signal.aborted }),
  );
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
