/**
 * Request/response over a child's IPC channel, for the master link benchmark's helper
 * processes (master, simulated scanners, in-process ingest baseline). Every call has a
 * time-out; a child that exits fails every call still waiting, with its exit status and the
 * tail of its stderr. A child whose parent goes away (IPC channel closed) exits at once.
 */
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { spawnManaged, StepTimeout, tailFile, type Managed } from './proc.ts';

interface Request {
  rpc: number;
  cmd: string;
  args: unknown;
}
interface Reply {
  rpc: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

export type Handlers = Record<string, (args: any) => unknown>;

/** Child side: answer the parent's calls with `handlers`; exit when the parent goes away. */
export function serveRpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this script is a benchmark helper: it must be started with an IPC channel');
  process.on('disconnect', () => process.exit(1));
  process.on('message', (raw: unknown) => {
    const req = raw as Request;
    if (typeof req?.rpc !== 'number') return;
    const reply = (r: Omit<Reply, 'rpc'>): void => {
      if (process.connected) process.send!({ rpc: req.rpc, ...r });
    };
    const handler = handlers[req.cmd];
    if (!handler) return reply({ ok: false, error: `unknown command ${req.cmd}` });
    Promise.resolve()
      .then(() => handler(req.args))
      .then(
        (value) => reply({ ok: true, value }),
        (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
}

export interface RpcChild {
  readonly label: string;
  readonly proc: Managed;
  /** Where the child's stdout went. */
  readonly stdoutFile: string;
  call<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T>;
  /** Graceful stop: `stop` command if it has one, then SIGTERM, then SIGKILL. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `script` (a .ts file) with the running Node (the project's Node 24) and an IPC
 * channel; stdout and stderr go to files in `logDir`. SIGKILLed at exit if still running.
 */
export function spawnRpcChild(label: string, script: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = process.env): RpcChild {
  const slug = label.replace(/[^A-Za-z0-9_-]+/g, '-');
  const stdoutFile = join(logDir, `${slug}.stdout.log`);
  const stderrFile = join(logDir, `${slug}.stderr.log`);
  const out = openSync(stdoutFile, 'a');
  const err = openSync(stderrFile, 'a');
  let proc: Managed;
  try {
    proc = spawnManaged(label, process.execPath, [script, ...args], { stdio: ['ignore', out, err, 'ipc'], env });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  let next = 1;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const died = (): string => `${label} exited (${proc.exitStatus()}); stderr: ${tailFile(stderrFile, 1500).trim() || '(empty)'}`;
  proc.child.on('message', (raw: unknown) => {
    const r = raw as Reply;
    const w = typeof r?.rpc === 'number' ? waiting.get(r.rpc) : undefined;
    if (!w) return;
    waiting.delete(r.rpc);
    if (r.ok) w.resolve(r.value);
    else w.reject(new Error(`${label}: ${r.error}`));
  });
  void proc.exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error(died()));
    waiting.clear();
  });
  const call = <T>(cmd: string, callArgs: unknown, timeoutMs: number): Promise<T> => {
    if (proc.exitStatus() !== undefined) return Promise.reject(new Error(died()));
    const id = next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new StepTimeout(`time-out after ${(timeoutMs / 1000).toFixed(0)} s: ${label} ${cmd}`));
      }, timeoutMs);
      waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      proc.child.send({ rpc: id, cmd, args: callArgs } satisfies Request);
    });
  };
  return {
    label,
    proc,
    stdoutFile,
    call,
    async stop(timeoutMs = 10_000) {
      if (proc.exitStatus() !== undefined) return;
      try {
        await call('stop', {}, timeoutMs);
      } catch {
        /* falls through to the signals */
      }
      await proc.stop('SIGTERM', 5000);
    },
  };
}
