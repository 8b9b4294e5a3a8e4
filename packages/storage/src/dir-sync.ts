import { close, closeSync, fdatasync, fstatSync, fsync, openSync, statSync } from 'node:fs';

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

/**
 * Coalesced syncs of one path through a descriptor kept open between them: one thread-pool
 * round trip per sync (the fsync) instead of three (open, fsync, close), each a wake-up of a
 * pool thread that the event loop pays for. Before each sync the path is looked up again (a
 * stat on the event loop, no disk wait) and reopened if it names another file now (SQLite
 * replaces its WAL file after closing the database); a path that is gone is nothing to sync
 * when `missingOk`. `data: true` syncs with fdatasync (data and size, not times).
 */
export class PathSync extends CoalescedSync {
  private fd: number | undefined;
  private ino = -1;

  constructor(path: string, options: { data?: boolean; missingOk?: boolean } = {}) {
    super(() => this.syncNow(path, options));
  }

  private syncNow(path: string, options: { data?: boolean; missingOk?: boolean }): Promise<void> {
    try {
      const now = statSync(path, { throwIfNoEntry: !options.missingOk });
      if (!now) {
        this.close();
        return Promise.resolve();
      }
      if (this.fd === undefined || now.ino !== this.ino) {
        this.close();
        this.fd = openSync(path, 'r');
        this.ino = fstatSync(this.fd).ino;
      }
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const fd = this.fd;
    return new Promise<void>((resolve, reject) => (options.data ? fdatasync : fsync)(fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Let the descriptor go (a later sync opens it again). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.ino = -1;
    try {
      closeSync(fd);
    } catch {
      // nothing was written through it: a failed close loses nothing
    }
  }
}

/** Coalesced fsyncs of a directory, after renames or unlinks inside it. */
export class DirSyncer extends PathSync {
  constructor(dir: string) {
    super(dir);
  }
}
