import { fsyncDir } from './durable-file.ts';

/**
 * Coalesces fsyncs of one file or directory: callers that wrote while a sync was running wait
 * for the next sync (which covers all of them), so N concurrent writers cost about two fsyncs
 * instead of N. A failed sync rejects every caller that was waiting on it.
 */
export class CoalescedSync {
  private readonly syncOnce: () => Promise<void>;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(syncOnce: () => Promise<void>) {
    this.syncOnce = syncOnce;
  }

  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.syncOnce().finally(() => (this.running = undefined));
      return this.running;
    }
    // A sync is in flight and may have started before our write: wait for a fresh one.
    this.next ??= this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.sync();
  }
}

/** Coalesced fsyncs of a directory, after renames or unlinks inside it. */
export class DirSyncer extends CoalescedSync {
  constructor(dir: string) {
    super(() => fsyncDir(dir));
  }
}
