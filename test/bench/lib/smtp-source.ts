/**
 * Runs Postfix's smtp-source load generator (a C program: it costs the machine far less
 * than the servers it drives). It sends `-m` messages over `-s` parallel sessions; with
 * `-d` a session keeps its connection for the next message, without it every message gets a
 * new connection (connect, greeting, HELO, MAIL, RCPT, DATA, QUIT). `-l` is the payload size
 * in bytes, not counting smtp-source's four header lines.
 */
import { performance } from 'node:perf_hooks';
import { requireExecutable, spawnManaged, sleep, StepTimeout } from './proc.ts';

export interface SourceOptions {
  port: number;
  messages: number;
  sessions: number;
  /** true: `-d`, one connection per session reused for every message. */
  reuse: boolean;
  size: number;
  from: string;
  to: string;
  helo: string;
  timeoutMs: number;
}

export interface SourceResult {
  /** From spawn to exit: every message got its 250 after DATA. */
  elapsedMs: number;
  startedAt: number;
  args: string[];
}

export function smtpSourceArgs(o: SourceOptions): string[] {
  return [
    ...(o.reuse ? ['-d'] : []),
    '-s', String(o.sessions),
    '-m', String(o.messages),
    '-l', String(o.size),
    '-M', o.helo,
    '-f', o.from,
    '-t', o.to,
    '-C', '3',
    `127.0.0.1:${o.port}`,
  ];
}

export async function runSmtpSource(o: SourceOptions): Promise<SourceResult> {
  const bin = requireExecutable('smtp-source', 'apt-get install -y postfix');
  const args = smtpSourceArgs(o);
  const startedAt = performance.now();
  const proc = spawnManaged('smtp-source', bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 8000) stderr += d;
  });
  const status = await Promise.race([proc.exited, sleep(o.timeoutMs).then(() => 'timeout' as const)]);
  if (status === 'timeout') {
    await proc.stop('SIGKILL', 2000);
    throw new StepTimeout(`time-out after ${Math.round(o.timeoutMs / 1000)} s: smtp-source ${args.join(' ')}`);
  }
  const elapsedMs = performance.now() - startedAt;
  if (status !== 0) throw new Error(`smtp-source ${args.join(' ')} failed (${status}): ${stderr.trim() || 'no message'}`);
  return { elapsedMs, startedAt, args };
}
