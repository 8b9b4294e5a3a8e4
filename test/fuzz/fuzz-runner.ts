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
 *
 * A target whose cases may run at the same time (`parallel`, e.g. SMTP sessions that mostly wait
 * on timers) runs its cases through a pool of MOAT_FUZZ_CONCURRENCY slots instead of fast-check's
 * one-at-a-time loop: cases come from `fc.sample` in seeded chunks, so each one is named by a
 * fast-check seed and path; the first failing case is replayed alone with `fc.check` at that
 * seed and path, which shrinks it as usual.
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

/** Largest pool MOAT_FUZZ_CONCURRENCY may ask for. */
export const MAX_CONCURRENCY = 256;

/**
 * Slots of the pool for a parallel target: MOAT_FUZZ_CONCURRENCY_<TARGET>, else
 * MOAT_FUZZ_CONCURRENCY, else the target's default; 1 runs the target one case at a time.
 */
export function fuzzConcurrency(defaultSlots: number, target = ''): number {
  for (const name of [`MOAT_FUZZ_CONCURRENCY_${target.toUpperCase().replace(/\W/g, '_')}`, 'MOAT_FUZZ_CONCURRENCY']) {
    const raw = process.env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) throw new Error(`${name}: an integer from 1 to ${MAX_CONCURRENCY}, got ${JSON.stringify(raw)}`);
    return n;
  }
  return defaultSlots;
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
  /**
   * The property may run for several cases at once: they go through a pool of
   * `fuzzConcurrency(defaultSlots)` slots, a case taking `weight(case)` of them (default 1,
   * at most every slot).
   */
  readonly parallel?: { readonly defaultSlots: number; readonly weight?: (input: T) => number };
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
  /** Pool slots (1: one case at a time under fast-check's own loop). */
  readonly concurrency: number;
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function fuzz<T>(target: FuzzTarget<T>): Promise<FuzzReport> {
  // An exception nobody caught (an event handler that throws, a promise nobody awaits) would
  // crash a real process: the case running at that moment is saved and the run fails.
  // With a pool, every case in flight at that moment is saved (the replay finds the culprit).
  const current = new Set<{ input: T }>();
  let escaped: unknown;
  const onEscape = (err: unknown) => {
    escaped ??= err;
    let k = 0;
    for (const c of current) saveCorpusCase(target.name, c.input, `escaped as an uncaught exception or unhandled rejection${current.size > 1 ? ` (one of ${current.size} cases in flight)` : ''}: ${String((err as Error)?.stack ?? err).slice(0, 400)}`, `found-uncaught-${Date.now()}${current.size > 1 ? `-${k++}` : ''}`);
  };
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  try {
    return await run({ ...target, property: async (input: T) => {
      const entry = { input };
      current.add(entry);
      try {
        await target.property(input);
        await new Promise<void>((resolve) => setImmediate(resolve));
      } finally {
        current.delete(entry);
      }
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
  const concurrency = target.parallel ? fuzzConcurrency(target.parallel.defaultSlots, target.name) : 1;
  const warmup = target.warmup ?? Math.min(200, runs);
  if (concurrency > 1) {
    const failed = await runPooled(target, warmup, seed + 1, concurrency);
    if (failed) await replayAndFail(target, failed, seed, concurrency);
  } else {
    // The warm-up's cases are random too: one that fails is shrunk, saved and reported like any other.
    const details = await checkOneAtATime(target, warmup, seed + 1);
    if (details.failed) failWith(target.name, details, `in the warm-up, run seed ${seed} (MOAT_FUZZ_SEED)`);
  }
  await target.settle?.();
  const before = settledHeap();
  // MOAT_FUZZ_HEAP_SNAPSHOTS=<dir>: heap snapshots before and after the run, to find what grew.
  const snapshots = process.env.MOAT_FUZZ_HEAP_SNAPSHOTS;
  if (snapshots) writeHeapSnapshot(join(snapshots, `${target.name}-before.heapsnapshot`));

  const started = performance.now();
  if (concurrency > 1) {
    const failed = await runPooled(target, runs, seed, concurrency);
    if (failed) await replayAndFail(target, failed, seed, concurrency);
  } else {
    const details = await checkOneAtATime(target, runs, seed);
    if (details.failed) failWith(target.name, details);
  }
  const seconds = (performance.now() - started) / 1000;
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
    concurrency,
  };
  const line = JSON.stringify(report);
  console.log(`fuzz ${line}`);
  if (process.env.MOAT_FUZZ_REPORT) appendFileSync(process.env.MOAT_FUZZ_REPORT, `${line}\n`);
  if (after - before > MEMORY_BOUND_BYTES) throw new Error(`${target.name}: heap grew by ${mib(after - before)} MiB over ${runs} cases (bound ${mib(MEMORY_BOUND_BYTES)} MiB): a leak`);
  return report;
}

/** `runs` cases of the target one after another under fast-check, which shrinks a failing one. */
function checkOneAtATime<T>(target: FuzzTarget<T>, runs: number, seed: number): Promise<fc.RunDetails<[T]>> {
  return fc.check(fc.asyncProperty(target.arbitrary, async (input) => { await target.property(input); }), { numRuns: runs, seed, endOnFailure: false });
}

function failWith<T>(name: string, details: fc.RunDetails<[T]>, context = ''): never {
  const error = String((details.errorInstance as Error | undefined)?.message ?? '').slice(0, 2000);
  const file = details.counterexample ? saveCorpusCase(name, details.counterexample[0], `found by fast-check (seed ${details.seed}, path ${details.counterexamplePath})${context ? `, ${context}` : ''}; error: ${error}`) : '(none)';
  throw new Error(`${name}: counterexample saved as corpus/${name}/${file}${context ? ` (${context})` : ''}\n${fc.defaultReportMessage(details)}\nIts error: ${error}`);
}

/** Cases per `fc.sample` call of a pooled run: few in memory at once, the bias of fast-check's first 100 runs in each. */
const CHUNK = 100;

/** The fast-check seed of chunk `chunk` of a pooled run started with `seed` (chunks do not overlap another run's). */
export function chunkSeed(seed: number, chunk: number): number {
  return (seed ^ Math.imul(chunk + 1, 0x9e3779b1)) | 0;
}

interface PooledFailure<T> {
  /** fast-check seed and path (the index in its chunk) that generate the case again. */
  readonly seed: number;
  readonly path: string;
  readonly input: T;
  readonly error: unknown;
}

/** A counting semaphore: a case takes `n` slots, or waits until they are free (first come, first served). */
class Slots {
  private free: number;
  private readonly waiting: { n: number; go: () => void }[] = [];
  constructor(size: number) {
    this.free = size;
  }
  acquire(n: number): Promise<void> {
    if (this.waiting.length === 0 && this.free >= n) {
      this.free -= n;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ n, go }));
  }
  release(n: number): void {
    this.free += n;
    while (this.waiting.length > 0 && this.free >= this.waiting[0]!.n) {
      const next = this.waiting.shift()!;
      this.free -= next.n;
      next.go();
    }
  }
}

/**
 * Run `runs` cases of the target with up to `slots` slots busy at once; stop starting cases at
 * the first failure, wait for those in flight, and return that failure (or undefined).
 */
async function runPooled<T>(target: FuzzTarget<T>, runs: number, seed: number, slots: number): Promise<PooledFailure<T> | undefined> {
  const pool = new Slots(slots);
  const weight = target.parallel?.weight ?? (() => 1);
  const inFlight = new Set<Promise<void>>();
  let failure: PooledFailure<T> | undefined;
  for (let chunk = 0, done = 0; done < runs && !failure; chunk++) {
    const cSeed = chunkSeed(seed, chunk);
    const cases = fc.sample(target.arbitrary, { seed: cSeed, numRuns: Math.min(CHUNK, runs - done) });
    done += cases.length;
    for (let i = 0; i < cases.length && !failure; i++) {
      const input = cases[i]!;
      const w = Math.max(1, Math.min(slots, weight(input)));
      await pool.acquire(w);
      if (failure) {
        pool.release(w);
        break;
      }
      const p = (async () => {
        try {
          await target.property(input);
        } catch (error) {
          failure ??= { seed: cSeed, path: String(i), input, error };
        } finally {
          pool.release(w);
        }
      })();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }
  await Promise.all(inFlight);
  return failure;
}

/**
 * The first case that failed in the pool, replayed alone (nothing else running) by fast-check at
 * its seed and path, so a failure that does not need company is shrunk and reported as usual.
 * One that passes alone is saved as it was: it failed only among other sessions.
 */
async function replayAndFail<T>(target: FuzzTarget<T>, failed: PooledFailure<T>, runSeed: number, slots: number): Promise<never> {
  const where = `run seed ${runSeed} (MOAT_FUZZ_SEED), case at fast-check seed ${failed.seed} path ${failed.path}, ${slots} slots`;
  const firstError = String((failed.error as Error)?.stack ?? failed.error);
  const details = await fc.check(fc.asyncProperty(target.arbitrary, async (input) => { await target.property(input); }), { seed: failed.seed, path: failed.path, numRuns: 1, endOnFailure: false });
  if (details.failed) failWith(target.name, details, `replayed alone after it failed in the pool: ${where}`);
  const file = saveCorpusCase(target.name, failed.input, `failed while other cases ran at the same time (${where}), passed alone; error: ${firstError.slice(0, 300)}`);
  throw new Error(`${target.name}: a case failed in the pool (${where}) but passed when replayed alone: saved as corpus/${target.name}/${file}; its error:\n${firstError}\ncase: ${JSON.stringify(failed.input).slice(0, 2000)}`);
}
