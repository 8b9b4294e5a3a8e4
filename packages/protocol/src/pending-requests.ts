import { randomBytes } from 'node:crypto';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Requests awaiting a scanner's `result`, by correlation id, each with a time-out. */
export class PendingRequests {
  private readonly pending = new Map<string, Pending>();

  /** Register a request; `onTimeout` builds the error when the scanner stays silent. */
  open<T>(timeoutMs: number, onTimeout: () => Error): { id: string; promise: Promise<T> } {
    const id = randomBytes(8).toString('hex');
    const promise = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(onTimeout());
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
    return { id, promise };
  }

  settle(id: string, outcome: { ok: true; value: unknown } | { ok: false; error: Error }): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (outcome.ok) p.resolve(outcome.value);
    else p.reject(outcome.error);
    return true;
  }

  /** The link dropped: everything still waiting fails now, not at its time-out. */
  failAll(error: () => Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error());
      this.pending.delete(id);
    }
  }
}
