import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon } from './daemon.ts';
import { freePort, readyOrStop, workDir } from './workdir.ts';

export interface Postgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `postgres://moat:…@127.0.0.1:port/moat`: what a master's `database.url` takes. */
  readonly url: string;
  readonly dir: string;
  readonly pid: number;
  /** Stop with a fast shutdown (SIGINT: clients are disconnected, everything committed is kept). */
  stop(): Promise<void>;
  /** kill -9, as a crash does (the data folder is kept when it was named). */
  kill(): Promise<void>;
}

export interface PostgresOptions {
  /** Keep the cluster here, across restarts (default: a temp folder removed on stop). */
  readonly dir?: string;
  readonly port?: number;
  readonly startTimeoutMs?: number;
}

/** The newest PostgreSQL server installed from Debian's packages (`/usr/lib/postgresql/N/bin`), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/**
 * A private PostgreSQL server on 127.0.0.1 for a master's `database.url`: its own cluster
 * (initdb) in `dir`, its socket in that folder too, no system service. One role and database,
 * both `moat`, with a generated password (scram-sha-256, kept 0600 in the folder): a private
 * instance is still not open to every local user. PostgreSQL refuses to run as root, so as
 * root the cluster belongs to the `postgres` system user that Debian's package creates.
 * Ready when `pg_isready` says it accepts connections; `stop` is a fast shutdown.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql)');
  const tmp = workDir('postgres', options.dir);
  const owner = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  if (owner) chownSync(tmp.path, owner.uid, owner.gid);
  const data = join(tmp.path, 'data');
  const passwordFile = join(tmp.path, 'password');
  if (!existsSync(join(data, 'PG_VERSION'))) {
    writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    if (owner) chownSync(passwordFile, owner.uid, owner.gid);
    mkdirSync(data, { mode: 0o700 });
    if (owner) chownSync(data, owner.uid, owner.gid);
    run(join(bin, 'initdb'), ['-D', data, '-U', 'moat', '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-instructions'], owner);
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const daemon = startAs(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', tmp.path, '-c', 'listen_addresses=127.0.0.1', '-c', 'logging_collector=off'], owner);
  const isReady = join(bin, 'pg_isready');
  const stop = await readyOrStop('postgres', daemon, tmp, async () => spawnSync(isReady, ['-h', '127.0.0.1', '-p', String(port), '-q']).status === 0, options.startTimeoutMs ?? 30_000, 50);
  const env = { ...process.env, PGPASSWORD: password };
  const exists = spawnSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'moat', '-d', 'postgres', '-tAc', "SELECT 1 FROM pg_database WHERE datname = 'moat'"], { env, encoding: 'utf8' });
  if (exists.stdout.trim() !== '1') {
    const made = spawnSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'moat', 'moat'], { env, encoding: 'utf8' });
    if (made.status !== 0) {
      await stop();
      throw new Error(`createdb moat failed: ${made.stderr}`);
    }
  }
  return {
    host: '127.0.0.1',
    port,
    url: `postgres://moat:${encodeURIComponent(password)}@127.0.0.1:${port}/moat`,
    dir: tmp.path,
    pid: daemon.child.pid!,
    stop,
    async kill() {
      daemon.child.kill('SIGKILL');
      await stop();
    },
  };
}

/** A system user's ids, to run a server as (`spawn`'s uid/gid). */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** The ids of `name` (as root, PostgreSQL runs as Debian's `postgres` user: it refuses root). */
export function systemUser(name: string): Owner {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) throw new Error(`PostgreSQL refuses to run as root and there is no '${name}' user to run it as`);
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function run(binary: string, args: string[], owner: { uid: number; gid: number } | undefined): void {
  const r = spawnSync(binary, args, { encoding: 'utf8', ...(owner ?? {}) });
  if (r.status !== 0) throw new Error(`${binary} ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
}

/** Like startDaemon, as another user, stopped with SIGINT (PostgreSQL's fast shutdown; SIGTERM would wait for every client). */
function startAs(binary: string, args: string[], owner: { uid: number; gid: number } | undefined): Daemon {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
