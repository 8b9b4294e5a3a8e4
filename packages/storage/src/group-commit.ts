import type { Db } from './sqlite.ts';

/**
 * The batch committed but the sync after it failed: its rows are in the database and may or
 * may not be on disk. A caller must neither tell anyone it succeeded nor undo what the rows
 * refer to (a file they name, say): a restart finds the rows if they survived.
 */
export class SyncFailedError extends Error {
  constructor(cause: unknown) {
    super(`committed, but the sync to disk failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'SyncFailedError';
  }
}

interface Job {
  work: () => unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * Group commit: work submitted within a short window shares one SQLite
 * transaction, hence one fsync of the WAL. Each caller still gets its own result only after
 * the commit is on disk, so "reply after commit" holds for every message of the batch.
 * If the batch fails, each job is retried alone so one bad job cannot fail the others.
 *
 * With a `sync` (a {@link walSync} of a database opened `synchronous: 'normal'`), the commit
 * itself does not wait for the disk: the batch's callers are answered once `sync` resolves,
 * which runs off the event loop while the next batches gather and commit. A failed sync fails
 * every caller of the batch (their rows are committed but may not be on disk: the caller
 * answers a temporary error, so at worst a message is received twice, never lost).
 */
export class GroupCommitter {
  private readonly db: Db;
  private readonly maxBatch: number;
  private readonly windowMs: number;
  private readonly sync: (() => Promise<void>) | undefined;
  private queue: Job[] = [];
  private scheduled = false;

  constructor(db: Db, options: { maxBatch?: number; windowMs?: number; sync?: () => Promise<void> } = {}) {
    this.db = db;
    this.maxBatch = options.maxBatch ?? 256;
    this.windowMs = options.windowMs ?? 2;
    this.sync = options.sync;
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // A short window gathers the messages finishing around the same time into one commit:
        // a 2 ms wait buys about three times fewer fsyncs under load (measured, docs/performance.md).
        // (With a `sync` the fsyncs would group by themselves, but each transaction writes its
        // pages to the WAL: a window of 0 meant about 30% more page writes and lock calls per
        // message, counted with strace.)
        setTimeout(() => this.flush(), this.windowMs);
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    const settled = this.commit(jobs);
    if (!this.sync) {
      for (const s of settled) s.done();
      return;
    }
    this.sync().then(
      () => {
        for (const s of settled) s.done();
      },
      (err: unknown) => {
        const failed = new SyncFailedError(err);
        for (const s of settled) s.fail(failed);
      },
    );
  }

  /** Commit the batch (or, if it fails, each job alone); each job's answer is held until `done`. */
  private commit(jobs: Job[]): { done(): void; fail(err: unknown): void }[] {
    const outcome = (job: Job, ok: boolean, value: unknown) => ({
      done: () => (ok ? job.resolve(value) : job.reject(value)),
      fail: (err: unknown) => job.reject(ok ? err : value),
    });
    let results: unknown[];
    try {
      results = this.db.transaction(() => jobs.map((j) => j.work()))();
    } catch {
      return jobs.map((job) => {
        try {
          return outcome(job, true, this.db.transaction(job.work)());
        } catch (err) {
          return outcome(job, false, err);
        }
      });
    }
    return jobs.map((job, i) => outcome(job, true, results[i]));
  }
}
