import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findBinary, startDaemon } from './daemon.ts';
import { freePort, waitReady, workDir } from './workdir.ts';

export interface Rspamd {
  /** The normal worker's base URL (`/checkv2`). */
  readonly url: string;
  /** The controller's base URL (`/learnspam`, `/learnham`, `/fuzzyadd`…). */
  readonly controllerUrl: string;
  readonly dir: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface RspamdOptions {
  /** Keep config and state here (default: a temp folder removed on stop). */
  readonly dir?: string;
  /** Redis (`host:port`) for Bayes; without it Rspamd does not learn. */
  readonly redis?: string;
  /**
   * A DNS server for its RBL/SURBL checks, `host:port`: `startDnsStub().address` answers NXDOMAIN
   * to every name at once. Default `127.0.0.1:1`: nothing listens, every query fails (as a DNS
   * error, which Rspamd may retry, where NXDOMAIN is a plain "not listed").
   */
  readonly dnsServer?: string;
  readonly startTimeoutMs?: number;
}

/**
 * A private Rspamd on 127.0.0.1, offline: Debian's stock config with a private
 * `LOCAL_CONFDIR` that binds the three workers to free loopback ports, logs to the console and
 * sends its DNS queries to a loopback server (its RBL/SURBL checks fail at once, none leaves
 * the machine). No map is downloaded; GTUBE and the local symbols work. With `redis`, Bayes
 * lives there (Rspamd 3.4 keeps it only in Redis), auto-learning off. The
 * first start builds its symbol cache (~11 s here). Ready when `/ping` answers; stopped by its pid.
 */
export async function startRspamd(options: RspamdOptions = {}): Promise<Rspamd> {
  const binary = findBinary('rspamd');
  if (!binary) throw new Error('rspamd is not installed (Debian package rspamd)');
  const tmp = workDir('rspamd', options.dir);
  const [normal, controller, proxy, fuzzy] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const local = join(tmp.path, 'local.d');
  const override = join(tmp.path, 'override.d');
  for (const d of [local, override, join(tmp.path, 'db'), join(tmp.path, 'run'), join(tmp.path, 'log')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(local, 'worker-normal.inc'), `bind_socket = "127.0.0.1:${normal}";\ncount = 1;\n`);
  writeFileSync(join(local, 'worker-controller.inc'), `bind_socket = "127.0.0.1:${controller}";\ncount = 1;\n`);
  writeFileSync(join(local, 'worker-proxy.inc'), `bind_socket = "127.0.0.1:${proxy}";\ncount = 1;\n`);
  writeFileSync(join(local, 'worker-fuzzy.inc'), `bind_socket = "127.0.0.1:${fuzzy}";\ncount = 1;\n`);
  writeFileSync(join(local, 'logging.inc'), 'type = "console";\nlevel = "error";\n');
  writeFileSync(join(local, 'options.inc'), `dns { nameserver = ["${options.dnsServer ?? '127.0.0.1:1'}"]; timeout = 0.1s; retransmits = 1; }\n`);
  if (options.redis) {
    writeFileSync(join(local, 'redis.conf'), `servers = "${options.redis}";\n`);
    // Moat teaches every node the same mail (learn events); an engine that teaches itself would make nodes diverge.
    writeFileSync(join(local, 'classifier-bayes.conf'), 'autolearn = false;\nmin_learns = 200;\n');
  }
  const user = userInfo().username;
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const daemon = startDaemon(binary, [
    '-f', '-i', '-c', '/etc/rspamd/rspamd.conf', '-u', user, '-g', group,
    `--var=LOCAL_CONFDIR=${tmp.path}`, `--var=DBDIR=${join(tmp.path, 'db')}`, `--var=RUNDIR=${join(tmp.path, 'run')}`, `--var=LOGDIR=${join(tmp.path, 'log')}`,
  ]);
  const url = `http://127.0.0.1:${normal}`;
  try {
    await waitReady('rspamd', () => ping(url), () => daemon.child.exitCode === null, daemon.output, options.startTimeoutMs ?? 90_000, 100);
  } catch (err) {
    await daemon.stop();
    tmp.cleanup();
    throw err;
  }
  return {
    url,
    controllerUrl: `http://127.0.0.1:${controller}`,
    dir: tmp.path,
    pid: daemon.child.pid!,
    async stop() {
      await daemon.stop();
      tmp.cleanup();
    },
  };
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).startsWith('pong');
  } catch {
    return false;
  }
}
