/**
 * The shared harness of the fuzz suite (docs/fuzzing.md). A target is an arbitrary (fast-check)
 * and a property that throws when the component misbehaves. `fuzz()`:
 *  1. replays the target's corpus (test/fuzz/corpus/<target>/*.json): every interesting case
 *     ever found or hand-picked runs on every run, before anything random;
 *  2. warms up (so lazy caches, JIT and pools are filled), collects garbage, measures the heap;
 *  3. runs `MOAT_FUZZ_RUNS` random cases (default: the target's own, small enough for CI);
 *  4. collects garbage again and fails when the heap grew by more than MEMORY_BOUND_BYTES;
 *  5. on a counterexample, writes the shrunk case into the corpus as `found-<hash>.json` (so the
 *     fix is replayed for ever after) and fails with fast-check's report (seed + path to replay).
 * With MOAT_FUZZ_REPORT=<file>, each target appends one JSON line of figures to that file.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';

export const CORPUS_DIR = join(import.meta.dirname, 'corpus');

/**
 * Heap growth allowed between warm-up and the end of a run, after a full collection. 32 MiB is
 * far above the noise (a few MiB: V8's code space, pools, fast-check's own state) and far below
 * what a leak does over 100,000 cases: anything keeping ≥ 340 bytes per case (one retained
 * closure, listener or Buffer) passes 32 MiB. Short CI runs only catch gross leaks; the
 * 100,000-case run is the real check.
 */
export const MEMORY_BOUND_BYTES = 32 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection (JS heap + ArrayBuffers, so leaked Buffers count). */
export function settledHeap(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Cases for a target: MOAT_FUZZ_RUNS_<TARGET> (e.g. MOAT_FUZZ_RUNS_PROTOCOL_LINK), else
 * MOAT_FUZZ_RUNS, else the target's CI default.
 */
export function fuzzRuns(defaultRuns: number, target = ''): number {
  for (const name of [`MOAT_FUZZ_RUNS_${target.toUpperCase().replace(/\W/g, '_')}`, 'MOAT_FUZZ_RUNS']) {
    const env = Number(process.env[name]);
    if (Number.isInteger(env) && env > 0) return env;
  }
  return defaultRuns;
}

export interface CorpusCase<T> {
  readonly file: string;
  readonly note: string;
  readonly input: T;
}

/** The saved cases of a target, in file-name order. */
export function readCorpus<T>(target: string): CorpusCase<T>[] {
  const dir = join(CORPUS_DIR, target);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return files.map((file) => {
    const doc = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { note?: string; input: T };
    return { file, note: doc.note ?? '', input: doc.input };
  });
}

/** Save a case (JSON-serialisable input); returns the file name. */
export function saveCorpusCase(target: string, input: unknown, note: string, name?: string): string {
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(input);
  const file = `${name ?? `found-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`}.json`;
  writeFileSync(join(dir, file), `${JSON.stringify({ note, input }, null, 2)}\n`);
  return file;
}

export interface FuzzTarget<T> {
  /** Corpus folder and report name. */
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Throws (assert) when the component misbehaves on `input`. */
  readonly property: (input: T) => void | Promise<void>;
  /** Cases in CI when MOAT_FUZZ_RUNS is not set. */
  readonly defaultRuns: number;
  /** Cases run before the first heap measurement (default: min(200, runs)). */
  readonly warmup?: number;
  /** Called after the run, before the final heap measurement (e.g. to drop a test sink's mail). */
  readonly settle?: () => void | Promise<void>;
}

export interface FuzzReport {
  readonly target: string;
  readonly corpusCases: number;
  readonly runs: number;
  readonly seconds: number;
  readonly casesPerSecond: number;
  readonly heapBeforeMiB: number;
  readonly heapAfterMiB: number;
  readonly heapGrowthMiB: number;
  readonly seed: number;
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function fuzz<T>(target: FuzzTarget<T>): Promise<FuzzReport> {
  // An exception nobody caught (an event handler that throws, a promise nobody awaits) would
  // crash a real process: the case running at that moment is saved and the run fails.
  let current: { input: T } | undefined;
  let escaped: unknown;
  const onEscape = (err: unknown) => {
    escaped ??= err;
    if (current) saveCorpusCase(target.name, current.input, `escaped as an uncaught exception or unhandled rejection: ${String((err as Error)?.stack ?? err).slice(0, 400)}`, `found-uncaught-${Date.now()}`);
  };
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  try {
    return await run({ ...target, property: async (input: T) => {
      current = { input };
      await target.property(input);
      await new Promise<void>((resolve) => setImmediate(resolve));
      current = undefined;
      if (escaped) throw new Error(`uncaught: ${String((escaped as Error)?.stack ?? escaped)}`);
    } });
  } finally {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
}

async function run<T>(target: FuzzTarget<T>): Promise<FuzzReport> {
  const corpus = readCorpus<T>(target.name);
  for (const c of corpus) {
    try {
      await target.property(c.input);
    } catch (err) {
      throw new Error(`corpus case ${target.name}/${c.file} (${c.note}) fails: ${(err as Error).stack ?? String(err)}`);
    }
  }
  const runs = fuzzRuns(target.defaultRuns, target.name);
  const seed = Number(process.env.MOAT_FUZZ_SEED) || Date.now() ^ (Math.random() * 0x100000000);
  const warm = fc.sample(target.arbitrary, { numRuns: target.warmup ?? Math.min(200, runs), seed: seed + 1 });
  for (const input of warm) await target.property(input);
  await target.settle?.();
  const before = settledHeap();
  // MOAT_FUZZ_HEAP_SNAPSHOTS=<dir>: heap snapshots before and after the run, to find what grew.
  const snapshots = process.env.MOAT_FUZZ_HEAP_SNAPSHOTS;
  if (snapshots) writeHeapSnapshot(join(snapshots, `${target.name}-before.heapsnapshot`));

  const started = performance.now();
  const details = await fc.check(fc.asyncProperty(target.arbitrary, async (input) => { await target.property(input); }), { numRuns: runs, seed, endOnFailure: false });
  const seconds = (performance.now() - started) / 1000;
  if (details.failed) {
    const file = details.counterexample ? saveCorpusCase(target.name, details.counterexample[0], `found by fast-check (seed ${details.seed}, path ${details.counterexamplePath}); error: ${String((details.errorInstance as Error | undefined)?.message ?? '').slice(0, 300)}`) : '(none)';
    throw new Error(`${target.name}: counterexample saved as corpus/${target.name}/${file}\n${fc.defaultReportMessage(details)}`);
  }
  await target.settle?.();
  const after = settledHeap();
  if (snapshots) writeHeapSnapshot(join(snapshots, `${target.name}-after.heapsnapshot`));
  const report: FuzzReport = {
    target: target.name,
    corpusCases: corpus.length,
    runs,
    seconds: Math.round(seconds * 10) / 10,
    casesPerSecond: Math.round(runs / seconds),
    heapBeforeMiB: mib(before),
    heapAfterMiB: mib(after),
    heapGrowthMiB: mib(after - before),
    seed,
  };
  const line = JSON.stringify(report);
  console.log(`fuzz ${line}`);
  if (process.env.MOAT_FUZZ_REPORT) appendFileSync(process.env.MOAT_FUZZ_REPORT, `${line}\n`);
  if (after - before > MEMORY_BOUND_BYTES) throw new Error(`${target.name}: heap grew by ${mib(after - before)} MiB over ${runs} cases (bound ${mib(MEMORY_BOUND_BYTES)} MiB): a leak`);
  return report;
}
