import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './daemon.ts';
import { postgresBinDir, systemUser, type Owner } from './postgres.ts';
import { freePort, sleep, workDir } from './workdir.ts';

/** A data node of the formation: `url` is what a master's `database.url` lists (role and database `moat`). */
export interface PgNode {
  readonly name: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly url: string;
}

/** One data node as the monitor sees it (`pgautofailover.node`). */
export interface PgNodeState {
  readonly name: string;
  readonly port: number;
  /** What the node's keeper last reported: single, wait_primary, primary, secondary, catchingup, demoted… */
  readonly reported: string;
  /** What the monitor assigned it. */
  readonly goal: string;
  /** The monitor's health check: 1 healthy, 0 failing, -1 unknown. */
  readonly health: number;
}

export interface PgAutoFailover {
  readonly dir: string;
  /** The monitor, for `pg_autoctl show state --monitor …` (role autoctl_node, trusted on loopback). */
  readonly monitorUrl: string;
  /** The data nodes, first the one created as primary. */
  nodes(): readonly PgNode[];
  /** kill -9 of the node's pg_autoctl supervisor, its keeper and its postgres (one process group), as a crash. */
  kill(name: string): Promise<void>;
  /** The process id of a node's (or the monitor's) `pg_autoctl run`, which leads its process group; undefined while it is not running. */
  pid(name: string): number | undefined;
  /** `pg_autoctl run` again for a node killed or stopped: its keeper asks the monitor what it is before serving. */
  start(name: string): Promise<void>;
  /** The monitor's view of every data node. */
  state(): Promise<PgNodeState[]>;
  /** Polls the monitor until `condition` holds; throws with the last state after `timeoutMs`. */
  waitForState(condition: (nodes: PgNodeState[]) => boolean, timeoutMs?: number): Promise<PgNodeState[]>;
  /** Fast shutdown of every node, then the monitor; a temp folder is removed. */
  stop(): Promise<void>;
}

export interface PgAutoFailoverOptions {
  /**
   * Keep the formation here (default: a temp folder removed on stop). A formation made there
   * before (its ports are in `formation.json`) is started again as it was, its data kept, and
   * a `pg_autoctl run` left running by a parent that was killed is stopped first (`NAME.pid`);
   * a creation that did not finish is removed and made again.
   */
  readonly dir?: string;
  /**
   * Scale pg_auto_failover's failure detection down for tests (health checks every second, a
   * node unhealthy after 3 s, the demote timeout 8 s, the keepers' network partition timeout
   * 5 s), keeping its fencing order: an isolated primary demotes itself (partition timeout)
   * before the monitor promotes its standby (demote timeout). Default: pg_auto_failover's own
   * (20 s unhealthy, 30 s demote, 20 s partition).
   */
  readonly fastFailover?: boolean;
  readonly startTimeoutMs?: number;
}

/** Why a formation cannot start here (a missing Debian package), or undefined when it can. */
export function pgAutoFailoverMissing(): string | undefined {
  const bin = postgresBinDir();
  if (!bin) return 'PostgreSQL is not installed (Debian package postgresql)';
  if (!findBinary('pg_autoctl')) return 'pg_autoctl is not installed (Debian package pg-auto-failover-cli)';
  const version = bin.split('/').at(-2)!;
  if (!existsSync(`/usr/share/postgresql/${version}/extension/pgautofailover.control`)) return `the pgautofailover extension for PostgreSQL ${version} is not installed (Debian package postgresql-${version}-auto-failover)`;
  return undefined;
}

/**
 * A private pg_auto_failover formation on 127.0.0.1, under one folder, no system service: a
 * monitor and two data nodes (node1 created primary, node2 its standby by pg_basebackup), each
 * its own PGDATA and port, each run by its own `pg_autoctl run` (supervisor, keeper and
 * postgres in one process group). The standby is in the replication quorum, so the primary's
 * `synchronous_standby_names` is `ANY 1 (…)`: a commit returns once the standby has it.
 * pg_autoctl's config, state and pid files go under the folder (XDG_CONFIG_HOME,
 * XDG_DATA_HOME, XDG_RUNTIME_DIR). As root everything runs as the `postgres` system user
 * (PostgreSQL refuses root).
 *
 * Authentication (pg_hba.conf is ours, `--skip-pg-hba`): the unix sockets live in the folder
 * (0700), trusted; over TCP on 127.0.0.1 trust only for what pg_autoctl needs between its own
 * nodes (autoctl_node to the monitor, pgautofailover_monitor's health checks,
 * pgautofailover_replicator's streaming and pg_rewind); everything else, the `moat` role
 * included, is scram-sha-256 with a generated password kept 0600 in the folder.
 */
export async function startPgAutoFailover(options: PgAutoFailoverOptions = {}): Promise<PgAutoFailover> {
  const missing = pgAutoFailoverMissing();
  if (missing) throw new Error(missing);
  const bin = postgresBinDir()!;
  const autoctl = findBinary('pg_autoctl')!;
  const tmp = workDir('pgaf', options.dir);
  const root = tmp.path;
  chmodSync(root, 0o700);
  const owner = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  const own = (path: string) => owner && chownSync(path, owner.uid, owner.gid);
  own(root);
  const names = ['node1', 'node2'];
  const formationFile = join(root, 'formation.json');
  const made = readFormation(formationFile);
  for (const name of ['monitor', ...names]) stopLeftBehind(join(root, `${name}.pid`));
  // A creation that did not finish leaves data folders and pg_autoctl state that a new one would trip on.
  if (!made) for (const sub of ['monitor', ...names, 'config', 'share', 'run']) rmSync(join(root, sub), { recursive: true, force: true });
  for (const sub of ['config', 'share', 'run']) {
    mkdirSync(join(root, sub), { recursive: true, mode: 0o700 });
    own(join(root, sub));
  }
  const env = {
    ...process.env,
    // Only system folders: pg_autoctl looks for pg_ctl along PATH, and as the postgres user a root-only folder there is an error in its log.
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    PGHOST: root,
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_DATA_HOME: join(root, 'share'),
    XDG_RUNTIME_DIR: join(root, 'run'),
  };
  const passwordFile = join(root, 'password');
  if (!existsSync(passwordFile)) {
    writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const runs = new Map<string, Run>();
  const monitorPort = made?.monitorPort ?? (await freePort());
  const monitorUrl = `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable`;
  const psql = (args: string[], input?: string) => runAsync(join(bin, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', ...args], env, owner, input);
  const monitorQuery = (query: string) => psql([monitorUrl, '-tA', '-F', '|', '-c', query]);

  const ports = new Map<string, number>();
  for (const name of names) ports.set(name, made?.ports[name] ?? (await freePort()));
  const nodes: PgNode[] = names.map((name) => ({ name, host: '127.0.0.1', port: ports.get(name)!, url: `postgres://moat:${encodeURIComponent(password)}@127.0.0.1:${ports.get(name)}/moat` }));

  const state = async (): Promise<PgNodeState[]> => {
    const out = await monitorQuery('SELECT nodename, nodeport, reportedstate, goalstate, health FROM pgautofailover.node ORDER BY nodeid');
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, port, reported, goal, health] = line.split('|');
        return { name: name!, port: Number(port), reported: reported!, goal: goal!, health: Number(health) };
      });
  };
  const waitForState = async (condition: (nodes: PgNodeState[]) => boolean, waitMs = timeoutMs): Promise<PgNodeState[]> => {
    const deadline = Date.now() + waitMs;
    let last: PgNodeState[] | string = [];
    for (;;) {
      try {
        last = await state();
        if (condition(last)) return last;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`pg_auto_failover did not reach the expected state in ${waitMs} ms; last: ${JSON.stringify(last)}${tail(runs)}`);
      await sleep(200);
    }
  };
  const startRun = (name: string, args: string[]) => {
    const run = startGroup(autoctl, args, env, owner, join(root, `${name}.log`));
    runs.set(name, run);
    // The group's leader, for whoever must stop it after this process is gone (and for `kill -9` by hand).
    writeFileSync(join(root, `${name}.pid`), `${run.pid}\n`);
  };
  const stopAll = async () => {
    await Promise.all(names.map((n) => runs.get(n)?.stop()));
    await runs.get('monitor')?.stop();
    for (const name of ['monitor', ...names]) rmSync(join(root, `${name}.pid`), { force: true });
    tmp.cleanup();
  };

  try {
    if (made) {
      // A formation made before: each node's keeper asks the monitor what it is before it serves.
      startRun('monitor', ['run', '--pgdata', join(root, 'monitor')]);
      await waitUntil('the monitor ready', () => monitorQuery('SELECT count(*) FROM pgautofailover.formation').then(() => true, () => false), runs.get('monitor')!, timeoutMs);
      for (const name of names) startRun(name, ['run', '--pgdata', join(root, name)]);
      await waitForState((s) => s.length === 2 && s.some((n) => n.reported === 'primary' && n.goal === 'primary') && s.some((n) => n.reported === 'secondary' && n.goal === 'secondary'), timeoutMs);
      return formation();
    }
    // The monitor.
    const monitorData = join(root, 'monitor');
    await initdb(bin, monitorData, env, owner, options.fastFailover ? FAST_MONITOR : '');
    writeFileSync(join(monitorData, 'pg_hba.conf'), `local all all trust\nhost pg_auto_failover autoctl_node 127.0.0.1/32 trust\n`);
    own(join(monitorData, 'pg_hba.conf'));
    startRun('monitor', ['create', 'monitor', '--pgdata', monitorData, '--pgport', String(monitorPort), '--hostname', '127.0.0.1', '--listen', '127.0.0.1', '--skip-pg-hba', '--no-ssl', '--run']);
    await waitUntil('the monitor ready', () => monitorQuery('SELECT count(*) FROM pgautofailover.formation').then(() => true, () => false), runs.get('monitor')!, timeoutMs);

    // The data nodes: node1 registers first and is the primary, node2 clones it.
    for (const [i, name] of names.entries()) {
      const pgdata = join(root, name);
      if (i === 0) {
        await initdb(bin, pgdata, env, owner, '');
        writeFileSync(join(pgdata, 'pg_hba.conf'), DATA_HBA);
        own(join(pgdata, 'pg_hba.conf'));
      }
      const create = ['create', 'postgres', '--pgdata', pgdata, '--pgport', String(ports.get(name)), '--hostname', '127.0.0.1', '--listen', '127.0.0.1', '--name', name, '--monitor', monitorUrl, '--skip-pg-hba', '--no-ssl', '--replication-quorum', 'true'];
      await runAsync(autoctl, create, env, owner);
      if (options.fastFailover) await runAsync(autoctl, ['config', 'set', '--pgdata', pgdata, 'timeout.network_partition_timeout', '5'], env, owner);
      startRun(name, ['run', '--pgdata', pgdata]);
      if (i === 0) {
        await waitForState((s) => s.some((n) => n.name === name && n.reported === 'single'), timeoutMs);
        await waitUntil(`${name} accepting connections`, () => runAsync(join(bin, 'pg_isready'), ['-h', root, '-p', String(ports.get(name)), '-q'], env, owner).then(() => true, () => false), runs.get(name)!, timeoutMs);
        // The role the master uses; the statement is not logged (pg_autoctl sets log_statement = ddl).
        // The checkpoint after it spares the standby's pg_basebackup a spread checkpoint of the new database (minutes).
        await psql(['-h', root, '-p', String(ports.get(name)), '-d', 'postgres', '-q'], `SET log_statement = 'none';\nCREATE ROLE moat LOGIN PASSWORD '${password}';\nCREATE DATABASE moat OWNER moat;\nCHECKPOINT;\n`);
      }
    }
    await waitForState((s) => s.length === 2 && s[0]!.reported === 'primary' && s[0]!.goal === 'primary' && s[1]!.reported === 'secondary' && s[1]!.goal === 'secondary', timeoutMs);
    if (options.dir) writeFileSync(formationFile, JSON.stringify({ monitorPort, ports: Object.fromEntries(ports) }));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return formation();

  function formation(): PgAutoFailover {
    return {
      dir: root,
      monitorUrl,
      nodes: () => nodes,
      async kill(name) {
        const run = runs.get(name);
        if (!run) throw new Error(`no running node named ${name}`);
        await run.kill();
      },
      pid: (name) => (runs.get(name)?.alive() ? runs.get(name)!.pid : undefined),
      async start(name) {
        if (!ports.has(name)) throw new Error(`no node named ${name}`);
        if (runs.get(name)?.alive()) throw new Error(`${name} is running`);
        startRun(name, ['run', '--pgdata', join(root, name)]);
      },
      state,
      waitForState,
      stop: stopAll,
    };
  }
}

/** The ports of a formation made in a kept folder, once its creation finished. */
function readFormation(file: string): { monitorPort: number; ports: Record<string, number> } | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as { monitorPort: number; ports: Record<string, number> };
}

/** A `pg_autoctl run` group whose parent was killed -9 (detached, it outlived it): stopped before the folder is used again. */
function stopLeftBehind(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1) return;
  // Only a pg_autoctl: after a reboot the number may be another process's.
  let command = '';
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // no such process
  }
  if (!command.includes('pg_autoctl')) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // no such group: it ended with its parent, as it should
  }
}

const FAST_MONITOR = [
  'pgautofailover.health_check_period = 1000',
  'pgautofailover.health_check_timeout = 1000',
  'pgautofailover.health_check_max_retries = 1',
  'pgautofailover.health_check_retry_delay = 500',
  'pgautofailover.node_considered_unhealthy_timeout = 3000',
  'pgautofailover.primary_demote_timeout = 8000',
  '',
].join('\n');

/** A data node's pg_hba.conf (pg_basebackup copies it to the standby). */
const DATA_HBA = [
  'local all all trust',
  'host all pgautofailover_monitor 127.0.0.1/32 trust',
  'host replication pgautofailover_replicator 127.0.0.1/32 trust',
  'host postgres pgautofailover_replicator 127.0.0.1/32 trust',
  'host all all 127.0.0.1/32 scram-sha-256',
  '',
].join('\n');

async function initdb(bin: string, pgdata: string, env: NodeJS.ProcessEnv, owner: Owner | undefined, extra: string): Promise<void> {
  await runAsync(join(bin, 'initdb'), ['-D', pgdata, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-instructions'], env, owner);
  // postgresql.auto.conf wins over pg_autoctl's include file: sockets in the folder, and a
  // small shared_buffers (pg_autoctl would size it for a dedicated machine).
  appendFileSync(join(pgdata, 'postgresql.auto.conf'), `unix_socket_directories = '${env['PGHOST']}'\nshared_buffers = '32MB'\n${extra}`);
}

async function waitUntil(what: string, ready: () => Promise<boolean>, run: Run, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (!run.alive()) throw new Error(`pg_autoctl exited before ${what}: ${run.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms: ${run.output().slice(-2000)}`);
    await sleep(200);
  }
}

interface Run {
  readonly pid: number;
  alive(): boolean;
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** `pg_autoctl …` in a process group of its own (detached), so one signal reaches its keeper and postgres too. */
function startGroup(binary: string, args: string[], env: NodeJS.ProcessEnv, owner: Owner | undefined, logFile: string): Run {
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true, ...(owner ?? {}) });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    appendFileSync(logFile, d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const alive = () => child.exitCode === null && child.signalCode === null;
  // Detached, the group would outlive a test runner that dies: take it down on exit.
  const onExit = () => signalGroup('SIGKILL');
  process.once('exit', onExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  return {
    pid: child.pid!,
    alive,
    output: () => out,
    async kill() {
      signalGroup('SIGKILL');
      await exited;
      process.off('exit', onExit);
    },
    async stop() {
      process.off('exit', onExit);
      if (!alive()) {
        signalGroup('SIGKILL'); // a postgres left behind by a supervisor that died
        return;
      }
      signalGroup('SIGINT'); // pg_autoctl's fast shutdown
      const timer = setTimeout(() => signalGroup('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function runAsync(binary: string, args: string[], env: NodeJS.ProcessEnv, owner: Owner | undefined, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 4 << 20, ...(owner ?? {}) }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${binary.split('/').at(-1)} ${args.filter((a) => !a.startsWith('postgres://')).join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

function tail(runs: Map<string, Run>): string {
  return [...runs].map(([name, run]) => `\n--- ${name}${run.alive() ? '' : ' (exited)'}:\n${run.output().slice(-1500)}`).join('');
}
