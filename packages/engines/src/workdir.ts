import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { Daemon } from './daemon.ts';

/**
 * Where an engine keeps its private config and state: a folder the caller names (kept across
 * restarts, as `pnpm start` does under var/engines/) or a fresh temp folder removed on stop.
 */
export interface WorkDir {
  readonly path: string;
  /** Removes a temp folder; a named folder is kept. */
  cleanup(): void;
}

export function workDir(name: string, dir?: string): WorkDir {
  if (dir) {
    mkdirSync(dir, { recursive: true });
    return { path: dir, cleanup: () => undefined };
  }
  const path = mkdtempSync(join(tmpdir(), `moat-${name}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr !== 'string' ? resolve(addr.port) : reject(new Error('no free port on 127.0.0.1'))));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ready` every `intervalMs` until it is true; fails with the daemon's output when it exits or `timeoutMs` passes. */
export async function waitReady(what: string, ready: () => Promise<boolean>, alive: () => boolean, output: () => string, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (!alive()) throw new Error(`${what} exited before it was ready: ${output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs} ms: ${output().slice(-2000)}`);
    await sleep(intervalMs);
  }
}

/**
 * Waits until a daemon just started is `ready`; when it exits first or `timeoutMs` passes, stops
 * it, removes its temp folder and throws with its output. Resolves the handle's `stop`: the
 * daemon stopped by its pid, then the temp folder removed.
 */
export async function readyOrStop(what: string, daemon: Daemon, dir: WorkDir, ready: () => Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<() => Promise<void>> {
  const stop = async () => {
    await daemon.stop();
    dir.cleanup();
  };
  try {
    await waitReady(what, ready, () => daemon.child.exitCode === null, daemon.output, timeoutMs, intervalMs);
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
