import { spawn } from 'node:child_process';
import type { Log } from './log.ts';

/**
 * Runs one state-change hook (`election.hooks.master|backup|fault`) with /bin/sh: the
 * production way to move the virtual address (`ip addr add` + `arping`, or a cloud API call).
 * The context goes in environment variables, never interpolated into the command. A hook
 * that outlives `timeoutMs` is killed with its whole process group. Never throws: the outcome
 * is logged (`ha.hook_ok`, `ha.hook_failed`, `ha.hook_timeout`) and returned.
 */
export interface HookContext {
  readonly state: string;
  readonly previousState: string;
  readonly reason: string;
  readonly vip: string;
  readonly vipPort: number;
  readonly priority: number;
  readonly vrid: number;
  readonly nodeId: string;
}

export type HookOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'exit' | 'signal' | 'timeout' | 'spawn'; readonly detail: string };

/** The most of a hook's stderr kept for the log line. */
const STDERR_KEEP = 2048;

export function hookEnv(ctx: HookContext): Record<string, string> {
  return {
    MOAT_HA_STATE: ctx.state,
    MOAT_HA_PREVIOUS_STATE: ctx.previousState,
    MOAT_HA_REASON: ctx.reason,
    MOAT_HA_VIP: ctx.vip,
    MOAT_HA_VIP_PORT: String(ctx.vipPort),
    MOAT_HA_PRIORITY: String(ctx.priority),
    MOAT_HA_VRID: String(ctx.vrid),
    MOAT_HA_NODE_ID: ctx.nodeId,
  };
}

export interface ShellResult {
  readonly ok: boolean;
  /** Set when not ok. */
  readonly reason?: 'exit' | 'signal' | 'timeout' | 'spawn';
  readonly detail: string;
  /** The first 2 KiB of stderr. */
  readonly stderr: string;
  readonly ms: number;
}

/** Run `command` with /bin/sh in its own process group; past `timeoutMs` the group is killed. Never throws. */
export function runShell(command: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<ShellResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let stderr = '';
    let timedOut = false;
    const child = spawn('/bin/sh', ['-c', command], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group, so a time-out kills what it started too
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += d.toString('utf8').slice(0, STDERR_KEEP - stderr.length);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: 'spawn', detail: err.message, stderr, ms: Date.now() - started });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      if (timedOut) resolve({ ok: false, reason: 'timeout', detail: `killed after ${timeoutMs} ms`, stderr, ms });
      else if (code === 0) resolve({ ok: true, detail: 'exit code 0', stderr, ms });
      else if (code !== null) resolve({ ok: false, reason: 'exit', detail: `exit code ${code}`, stderr, ms });
      else resolve({ ok: false, reason: 'signal', detail: `signal ${signal}`, stderr, ms });
    });
  });
}

export async function runHookCommand(command: string, ctx: HookContext, timeoutMs: number, log: Log): Promise<HookOutcome> {
  // The command itself is not logged: it may carry a credential (a cloud API token).
  const fields = { hook: ctx.state, from: ctx.previousState };
  const r = await runShell(command, hookEnv(ctx), timeoutMs);
  if (r.ok) {
    log.info({ event: 'ha.hook_ok', ...fields, ms: r.ms }, 'election hook done');
    return { ok: true };
  }
  const reason = r.reason ?? 'exit';
  if (reason === 'timeout') log.error({ event: 'ha.hook_timeout', ...fields, timeoutMs, stderr: r.stderr }, 'election hook timed out and was killed');
  else if (reason === 'spawn') log.error({ event: 'ha.hook_failed', ...fields, reason, err: r.detail }, 'election hook could not start');
  else log.error({ event: 'ha.hook_failed', ...fields, reason, detail: r.detail, stderr: r.stderr }, 'election hook failed');
  return { ok: false, reason, detail: r.detail };
}
