import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findBinary, startDaemon, type Daemon } from './daemon.ts';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';
import { sleep } from './wait.ts';

export const RSPAMD = findBinary('rspamd');
export const RSPAMD_SKIP = RSPAMD
  ? false
  : 'rspamd is not installed (Debian package rspamd; CI does not install it: its first start builds a cache for ~11 s). The built-in GTUBE check and the /checkv2 client are tested without it.';

export interface Rspamd {
  /** The normal worker's base URL (`/checkv2`). */
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * A private Rspamd on 127.0.0.1, offline: Debian's stock config with a private
 * `LOCAL_CONFDIR` that binds the three workers to free loopback ports, logs to the console and
 * sends its own DNS queries to a closed loopback port (its RBL/SURBL checks fail at once, none
 * leaves the machine). No map is downloaded; GTUBE and the local symbols work. The first
 * start builds its symbol cache (~11 s here). Ready when `/ping` answers; stopped by its pid.
 */
export async function startRspamd(): Promise<Rspamd> {
  if (!RSPAMD) throw new Error(String(RSPAMD_SKIP));
  const tmp = tempDir('rspamd');
  const [normal, controller, proxy] = [await freePort(), await freePort(), await freePort()];
  const local = join(tmp.path, 'local.d');
  for (const d of [local, join(tmp.path, 'db'), join(tmp.path, 'run'), join(tmp.path, 'log')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(local, 'worker-normal.inc'), `bind_socket = "127.0.0.1:${normal}";\ncount = 1;\n`);
  writeFileSync(join(local, 'worker-controller.inc'), `bind_socket = "127.0.0.1:${controller}";\ncount = 1;\n`);
  writeFileSync(join(local, 'worker-proxy.inc'), `bind_socket = "127.0.0.1:${proxy}";\ncount = 1;\n`);
  writeFileSync(join(local, 'logging.inc'), 'type = "console";\nlevel = "error";\n');
  writeFileSync(join(local, 'options.inc'), 'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }\n');
  const user = userInfo().username;
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const daemon: Daemon = startDaemon(RSPAMD, [
    '-f', '-i', '-c', '/etc/rspamd/rspamd.conf', '-u', user, '-g', group,
    `--var=LOCAL_CONFDIR=${tmp.path}`, `--var=DBDIR=${join(tmp.path, 'db')}`, `--var=RUNDIR=${join(tmp.path, 'run')}`, `--var=LOGDIR=${join(tmp.path, 'log')}`,
  ]);
  const url = `http://127.0.0.1:${normal}`;
  const deadline = Date.now() + 60_000;
  while (!(await ping(url))) {
    if (daemon.child.exitCode !== null || Date.now() > deadline) {
      await daemon.stop();
      tmp.cleanup();
      throw new Error(`rspamd did not start: ${daemon.output()}`);
    }
    await sleep(100);
  }
  return {
    url,
    dir: tmp.path,
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
