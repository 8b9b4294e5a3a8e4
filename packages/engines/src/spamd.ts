import { chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findBinary, startDaemon } from './daemon.ts';
import { tcpPing } from './tcp-ping.ts';
import { freePort, readyOrStop, workDir } from './workdir.ts';

/** Where Debian keeps the site config; its `*.pre` files load SpamAssassin's plugins. */
const SYSTEM_SITE_CONFIG = '/etc/spamassassin';

export interface Spamd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Its unix socket (`spamd.sock` in `dir`), for clients that use one. */
  readonly socket: string;
  readonly dir: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface SpamdOptions {
  /** Keep config and Bayes here (default: a temp folder removed on stop). */
  readonly dir?: string;
  /** `--allow-tell`: accept TELL (learning and unlearning). */
  readonly allowTell?: boolean;
  /** `--max-children` (default 2). */
  readonly children?: number;
  /** Added to `trusted_networks` and `internal_networks` beside 127.0.0.0/8. */
  readonly trustedNetworks?: readonly string[];
  readonly startTimeoutMs?: number;
}

/**
 * A private spamd on 127.0.0.1, offline (`--local`: no DNS or network rules). Its site config is
 * a folder of its own (`--siteconfigpath`): Debian's `*.pre` files (the plugins) and a
 * `local.cf` written here. The rules stay on the default path, so sa-update's rules in
 * /var/lib/spamassassin are used when present and Debian's stock rules in /usr/share/spamassassin
 * otherwise. Bayes lives in the folder, auto-learning off: Moat teaches every node the same mail,
 * a spamd that taught itself would make nodes diverge. Run as root, it runs as `nobody`, who then
 * owns the folder. Ready when `PING` answers `PONG`; stopped by its pid.
 */
export async function startSpamd(options: SpamdOptions = {}): Promise<Spamd> {
  const children = options.children ?? 2;
  if (!Number.isInteger(children) || children < 1) throw new RangeError(`startSpamd: children must be a whole number of at least 1, got ${children}`);
  for (const n of options.trustedNetworks ?? []) {
    // They go into local.cf: an address or a CIDR block, nothing that could start another line.
    const [addr, bits, extra] = n.split('/');
    const family = isIP(addr ?? '');
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)))) {
      throw new RangeError(`startSpamd: trustedNetworks entry ${JSON.stringify(n)} is not an IP address or CIDR block`);
    }
  }
  const binary = findBinary('spamd');
  if (!binary) throw new Error('spamd is not installed (Debian package spamd)');
  const tmp = workDir('spamd', options.dir);
  const port = await freePort();
  const site = join(tmp.path, 'site');
  const bayes = join(tmp.path, 'bayes');
  for (const d of [site, bayes]) mkdirSync(d, { recursive: true });
  if (existsSync(SYSTEM_SITE_CONFIG)) {
    for (const f of readdirSync(SYSTEM_SITE_CONFIG).filter((name) => name.endsWith('.pre'))) copyFileSync(join(SYSTEM_SITE_CONFIG, f), join(site, f));
  }
  const networks = ['127.0.0.0/8', ...(options.trustedNetworks ?? [])].join(' ');
  writeFileSync(
    join(site, 'local.cf'),
    [
      `trusted_networks ${networks}`,
      `internal_networks ${networks}`,
      'use_bayes 1',
      'bayes_auto_learn 0',
      `bayes_path ${join(bayes, 'bayes')}`,
      'bayes_file_mode 0770',
      '',
    ].join('\n'),
  );
  const socket = join(tmp.path, 'spamd.sock');
  const args = [
    '--local', '--nouser-config', `--siteconfigpath=${site}`, '--syslog=stderr',
    `--listen=127.0.0.1:${port}`, `--listen=${socket}`, '--allowed-ips=127.0.0.1',
    `--max-children=${children}`, `--pidfile=${join(tmp.path, 'spamd.pid')}`, `--helper-home-dir=${tmp.path}`,
  ];
  if (options.allowTell) args.push('--allow-tell');
  if (userInfo().uid === 0) {
    // spamd refuses to run its children as root; `nobody` must be able to write Bayes.
    const uid = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('spamd runs as nobody when started by root, and there is no user nobody');
    for (const p of [tmp.path, site, bayes]) chownSync(p, uid, gid);
    args.push('--username=nobody');
  }
  const daemon = startDaemon(binary, args);
  const stop = await readyOrStop('spamd', daemon, tmp, () => ping(port), options.startTimeoutMs ?? 60_000, 100);
  return {
    host: '127.0.0.1',
    port,
    socket,
    dir: tmp.path,
    pid: daemon.child.pid!,
    stop,
  };
}

function ping(port: number): Promise<boolean> {
  return tcpPing(port, 'PING SPAMC/1.5\r\n\r\n', (reply) => /^SPAMD\/[\d.]+ 0 PONG\r\n/.test(reply));
}
