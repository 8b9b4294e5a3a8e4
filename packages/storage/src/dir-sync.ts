import { fsyncDir } from './durable-file.ts';

/**
 * Coalesces directory fsyncs: callers that renamed into a directory while a sync of it was
 * running wait for the next sync (which covers all of them), so N concurrent renames cost
 * about two fsyncs instead of N.
 */
export class DirSyncer {
  private readonly dir: string;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  sync(): Promise<void> {
    if (!this.running) {
      this.running = fsyncDir(this.dir).finally(() => (this.running = undefined));
      return this.running;
    }
    // A sync is in flight and may have started before our rename: wait for a fresh one.
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
