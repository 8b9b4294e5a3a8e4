import { findBinary, startDaemon } from './daemon.ts';
import { tcpPing } from './tcp-ping.ts';
import { freePort, readyOrStop, workDir } from './workdir.ts';

export interface Redis {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `host:port`, as Rspamd's `servers` takes it. */
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Keep the data here, across restarts (default: a temp folder removed on stop). */
  readonly dir?: string;
  readonly startTimeoutMs?: number;
}

/**
 * A private redis-server on 127.0.0.1, for Rspamd's Bayes. Its data is an append-only file in
 * `dir` (fsync every second, no RDB snapshots): what was learned survives a restart of
 * `pnpm start` or a kill -9 of redis, with at most a second lost. No config file, every setting
 * on the command line. Ready when it answers PING; stopped by its pid (SIGTERM: redis flushes
 * the file before it exits).
 */
export async function startRedis(options: RedisOptions = {}): Promise<Redis> {
  const binary = findBinary('redis-server');
  if (!binary) throw new Error('redis-server is not installed (Debian package redis-server)');
  const tmp = workDir('redis', options.dir);
  const port = await freePort();
  const daemon = startDaemon(binary, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', tmp.path,
    '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
    '--daemonize', 'no', '--logfile', '', '--loglevel', 'warning',
  ]);
  const stop = await readyOrStop('redis-server', daemon, tmp, () => ping(port), options.startTimeoutMs ?? 20_000, 20);
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    dir: tmp.path,
    pid: daemon.child.pid!,
    stop,
  };
}

/** True when redis answers an inline PING with +PONG (a redis still loading its file answers -LOADING); QUIT makes it close. */
function ping(port: number): Promise<boolean> {
  return tcpPing(port, 'PING\r\nQUIT\r\n', (reply) => reply.startsWith('+PONG'));
}
