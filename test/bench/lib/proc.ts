/** Small process, port and temp-folder helpers with time-outs; everything registers its clean-up. */
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, chmodSync, openSync, closeSync, statSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { onCleanup } from './cleanup.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class StepTimeout extends Error {}

/** Rejects with StepTimeout when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`time-out after ${Math.round(ms / 1000)} s: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Finds a program in PATH or the sbin folders (Postfix's tools live in /usr/sbin). */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function requireExecutable(name: string, install: string): string {
  const file = findExecutable(name);
  if (!file) throw new Error(`${name} not found in PATH or /usr/sbin: install it with \`${install}\``);
  return file;
}

export { freePort } from '../../helpers/ports.ts';

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * Waits until 127.0.0.1:port accepts a TCP connection. `failed` is polled between tries and
 * returns a reason when the daemon died (no point waiting for the time-out then).
 */
export async function waitForPort(port: number, timeoutMs: number, what: string, failed?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failed?.();
    if (reason) throw new Error(`${what} did not start: ${reason}`);
    if (await tryConnect(port)) return;
    if (Date.now() > deadline) throw new StepTimeout(`time-out after ${Math.round(timeoutMs / 1000)} s: ${what} never listened on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

/** True while the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

export async function waitDead(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Last `bytes` of a text file ('' if missing). */
export function tailFile(path: string, bytes = 4000): string {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      const len = Math.min(bytes, size);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

export interface TempDir {
  path: string;
  remove(): void;
}

/** A temp folder (mode 0755 so Postfix daemons can enter it), removed at exit unless keep. */
export function makeTempDir(prefix: string, keep = false): TempDir {
  const path = mkdtempSync(join(tmpdir(), `moat-bench-${prefix}-`));
  chmodSync(path, 0o755);
  const rm = (): void => {
    if (!keep) rmSync(path, { recursive: true, force: true });
  };
  const unregister = onCleanup(`temp folder ${path}`, rm);
  return {
    path,
    remove() {
      unregister();
      rm();
    },
  };
}

export interface Managed {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  exitStatus(): number | string | undefined;
  /** Signal, wait up to timeoutMs, then SIGKILL. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/** Spawns a child whose pid is SIGKILLed at exit if it is still running then. */
export function spawnManaged(label: string, file: string, args: string[], options: SpawnOptions): Managed {
  const child = spawn(file, args, options);
  if (child.pid === undefined) throw new Error(`could not start ${label} (${file})`);
  const pid = child.pid;
  let status: number | string | undefined;
  const unregister = onCleanup(label, () => {
    if (status === undefined) killQuietly(pid);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      status = code ?? signal ?? 'unknown';
      unregister();
      resolve(status);
    });
    child.once('error', (err) => {
      status = `spawn error: ${err.message}`;
      unregister();
      resolve(status);
    });
  });
  return {
    child,
    pid,
    exited,
    exitStatus: () => status,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (status !== undefined) return;
      killQuietly(pid, signal);
      const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!done) {
        process.stderr.write(`${label} ignored ${signal} for ${timeoutMs} ms: SIGKILL\n`);
        killQuietly(pid, 'SIGKILL');
        await withTimeout(exited, 5000, `${label} to exit after SIGKILL`);
      }
    },
  };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command with a time-out; never throws for a non-zero exit (check code). */
export function runCommand(file: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error(`${file} not found`));
      if (err && err.killed) return reject(new StepTimeout(`time-out after ${Math.round(timeoutMs / 1000)} s: ${file} ${args.join(' ')}`));
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Pids (not zombies) whose working folder is `dir` or inside it: Postfix's daemons chdir to their queue. */
export function pidsWithCwdUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if ((cwd === dir || cwd.startsWith(`${dir}/`)) && isAlive(pid)) out.push(pid);
    } catch {
      /* gone or not ours to read */
    }
  }
  return out;
}
