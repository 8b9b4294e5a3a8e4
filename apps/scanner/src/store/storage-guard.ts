import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';

/**
 * Whether this node can still store mail. A scanner whose disk is full answers every DATA with
 * 451 4.3.0, and while it does its SMTP greeting looked healthy: the balancer kept sending it a
 * share of the traffic (observed in `pnpm test:faults`). With the guard, a node short of space
 * greets new clients with `421 4.3.1` (RFC 5321 allows 421 as the greeting; RFC 3463 4.3.1 is
 * "mail system full"): the balancer's greeting gate treats that as a failed upstream and hands
 * the client to the next scanner without the client noticing, its active SMTP check takes the
 * node out, and a sending MTA connecting directly tries its next MX.
 *
 * "Short of space": the data folder's file system has less than `minFreeBytes` available (checked
 * every `intervalMs`), or a write just failed with ENOSPC/EDQUOT (at once; rechecked soon after).
 */
export interface StorageGuard {
  /** Why new mail cannot be taken now, or undefined when it can. */
  lowSpace(): string | undefined;
  /** A write failed: if for lack of space, the node is short of space from now on. */
  noteWriteError(err: unknown): void;
  close(): void;
}

export interface StorageGuardOptions {
  readonly dir: string;
  readonly minFreeBytes: number;
  readonly intervalMs: number;
  readonly log: Logger;
  /** Available bytes for unprivileged writers of the file system holding `dir` (injectable for tests). */
  readonly available?: (dir: string) => Promise<number>;
}

const SPACE_ERRORS = new Set(['ENOSPC', 'EDQUOT']);

async function availableBytes(dir: string): Promise<number> {
  const s = await statfs(dir, { bigint: true });
  return Number(s.bavail * s.bsize);
}

export function createStorageGuard(o: StorageGuardOptions): StorageGuard {
  const available = o.available ?? availableBytes;
  let reason: string | undefined;
  let checking = false;
  let closed = false;

  const set = (next: string | undefined, fields: Record<string, unknown>) => {
    if (next === reason) return;
    if (next) o.log.warn({ event: 'STORAGE_LOW', reason: next, ...fields }, 'short of disk space: new SMTP clients get 421 4.3.1 until space is freed');
    else o.log.info({ event: 'STORAGE_OK', ...fields }, 'disk space back: taking mail again');
    reason = next;
  };

  const check = async () => {
    if (checking || closed) return;
    checking = true;
    try {
      const free = await available(o.dir);
      set(free < o.minFreeBytes ? `${Math.floor(free / 1048576)} MiB free, below the ${Math.floor(o.minFreeBytes / 1048576)} MiB minimum` : undefined, { freeBytes: free });
    } catch (err) {
      // Cannot tell: keep the last answer rather than refusing mail on a failed statfs.
      o.log.warn({ event: 'STORAGE_CHECK_FAILED', err: (err as Error).message }, 'could not read the free space of the data folder');
    } finally {
      checking = false;
    }
  };

  const timer = setInterval(() => void check(), o.intervalMs);
  timer.unref();
  void check();

  return {
    lowSpace: () => reason,
    noteWriteError(err) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (!code || !SPACE_ERRORS.has(code)) return;
      set(`a write failed with ${code}`, {});
      // Space may come back any moment (a retention sweep, the admin): look again soon.
      setTimeout(() => void check(), Math.min(o.intervalMs, 1000)).unref();
    },
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
