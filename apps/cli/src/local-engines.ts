import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findBinary, startClamd, startDnsStub, startRedis, startRspamd, startSpamd, type DnsStub } from '@moat/engines';

/**
 * The spam and virus engines of `pnpm start` (docs/local-cluster.md): one private instance of
 * each engine installed on this machine, on 127.0.0.1, state under `var/engines/<name>/`, shared
 * by both local scanners (in production each scanner runs its own). An engine that is missing or
 * fails to start is a line in the banner, never a failed cluster.
 */

export type EngineName = 'rspamd' | 'redis' | 'spamd' | 'clamd';

/** One engine as `pnpm start` found it. */
export type EngineStatus =
  | { readonly name: EngineName; readonly state: 'on'; readonly address: string; readonly note: string }
  | { readonly name: EngineName; readonly state: 'missing'; readonly packages: readonly string[] }
  | { readonly name: EngineName; readonly state: 'failed'; readonly error: string }
  | { readonly name: EngineName; readonly state: 'unused'; readonly note: string };

/** The binary that says whether an engine is installed, and the Debian packages that bring it. */
export const ENGINE_PACKAGES: Readonly<Record<EngineName, { binary: string; packages: readonly string[] }>> = {
  rspamd: { binary: 'rspamd', packages: ['rspamd'] },
  redis: { binary: 'redis-server', packages: ['redis-server'] },
  spamd: { binary: 'spamd', packages: ['spamassassin', 'spamd', 'spamc'] },
  clamd: { binary: 'clamd', packages: ['clamav-daemon'] },
};

/** In the order the banner lists them. */
const ORDER: readonly EngineName[] = ['rspamd', 'redis', 'spamd', 'clamd'];

export interface LocalEngines {
  readonly status: readonly EngineStatus[];
  /** The scanner config's `analyzers:` keys for the engines that are on (empty when none is). */
  readonly analyzers: Readonly<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface LocalEnginesOptions {
  /** `var/engines`: each engine keeps its config and state in a folder of its own here. */
  readonly dir: string;
  /** Where a failed start is reported (the error in full; the banner has its first line). */
  readonly say: (line: string) => void;
  /** Stands in for `findBinary` (tests: an engine that is "not installed"). */
  readonly findBinary?: (name: string) => string | undefined;
}

type Stoppable = { pid: number; stop(): Promise<void> };

/**
 * Starts every engine that is installed, at once: redis and the DNS stub first (Rspamd is told
 * their addresses), spamd and clamd beside them. Rspamd's first start in a new folder builds its
 * cache (about 11 s here), later starts take about half a second; clamd with freshclam's full
 * signatures can take a minute and about 1 GB of memory.
 */
export async function startLocalEngines(options: LocalEnginesOptions): Promise<LocalEngines> {
  const find = options.findBinary ?? findBinary;
  const installed = (name: EngineName) => find(ENGINE_PACKAGES[name].binary) !== undefined;
  const status = new Map<EngineName, EngineStatus>();
  const analyzers: Record<string, unknown> = {};
  const running: Stoppable[] = [];
  let dns: DnsStub | undefined;
  const dirOf = (name: EngineName) => join(options.dir, name);
  const root = process.getuid?.() === 0;
  // Engine state (Bayes tokens come from mail) is private: each folder 0700. Run as root, spamd
  // reads its config as nobody, so var/ and var/engines/ become enterable, not listable, by
  // others (0711); every other entry of var/ keeps its own 0600/0700.
  let unusable: unknown;
  try {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    if (root && installed('spamd')) for (const d of [dirname(resolve(options.dir)), resolve(options.dir)]) chmodSync(d, (statSync(d).mode & 0o777) | 0o011);
  } catch (err) {
    unusable = err; // each engine then fails with it
  }

  /** Runs one start; a throw becomes a `failed` line and a warning, never a failed cluster. */
  const attempt = async <T extends Stoppable>(name: EngineName, start: () => Promise<T>): Promise<T | undefined> => {
    if (!installed(name)) {
      status.set(name, { name, state: 'missing', packages: ENGINE_PACKAGES[name].packages });
      return undefined;
    }
    try {
      if (unusable) throw unusable;
      mkdirSync(dirOf(name), { recursive: true });
      chmodSync(dirOf(name), 0o700);
      await stopStale(dirOf(name));
      const engine = await start();
      running.push(engine);
      writeFileSync(join(dirOf(name), PID_FILE), `${engine.pid}\n`);
      return engine;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      status.set(name, { name, state: 'failed', error });
      options.say(`${name} did not start, the scanners run without it: ${error}`);
      return undefined;
    }
  };

  const spam = async () => {
    if (!installed('rspamd')) {
      status.set('rspamd', { name: 'rspamd', state: 'missing', packages: ENGINE_PACKAGES.rspamd.packages });
      status.set('redis', installed('redis') ? { name: 'redis', state: 'unused', note: 'only Rspamd uses it' } : { name: 'redis', state: 'missing', packages: ENGINE_PACKAGES.redis.packages });
      return;
    }
    const [redis, stub] = await Promise.all([
      attempt('redis', () => startRedis({ dir: dirOf('redis') })),
      startDnsStub().catch((err: unknown) => (options.say(`the DNS stub for Rspamd did not start (its DNS checks will wait on time-outs): ${String(err)}`), undefined)),
    ]);
    dns = stub;
    if (redis) status.set('redis', { name: 'redis', state: 'on', address: redis.address, note: 'Rspamd\'s Bayes store' });
    // With redis: Bayes and the fuzzy storage, both taught by Moat's learn events through the controller.
    const rspamd = await attempt('rspamd', () => startRspamd({ dir: dirOf('rspamd'), ...(redis ? { redis: redis.address, fuzzy: true } : {}), ...(stub ? { dnsServer: stub.address } : {}) }));
    if (!rspamd) return;
    const notes = [redis ? 'Bayes and fuzzy hashes in redis' : 'no Bayes (redis is not running)', stub ? 'offline: DNS checks answered at once by a stub' : 'DNS checks time out offline'];
    status.set('rspamd', { name: 'rspamd', state: 'on', address: rspamd.url.replace(/^http:\/\//, ''), note: `${notes.join('; ')}; controller ${rspamd.controllerUrl}` });
    analyzers.rspamd = { url: rspamd.url, controllerUrl: rspamd.controllerUrl, fuzzy: rspamd.fuzzy };
  };

  const spamassassin = async () => {
    const spamd = await attempt('spamd', async () => {
      const blocked = root ? unreachableByOthers(dirOf('spamd')) : undefined;
      // Started by root, spamd becomes `nobody` before it reads its config (its own error then is a cryptic "no loaded plugin").
      if (blocked) throw new Error(`spamd runs as nobody when started by root, and nobody cannot enter ${blocked} (chmod o+x it, or run pnpm start as a normal user)`);
      return startSpamd({ dir: dirOf('spamd'), allowTell: true });
    });
    if (!spamd) return;
    status.set('spamd', { name: 'spamd', state: 'on', address: `${spamd.host}:${spamd.port}`, note: 'SpamAssassin, learning allowed' });
    analyzers.spamassassin = { host: spamd.host, port: spamd.port };
  };

  const clamav = async () => {
    // 25M is Debian's StreamMaxLength and the scanner's default streamMaxBytes: the two must agree.
    const clamd = await attempt('clamd', () => startClamd({ dir: dirOf('clamd'), systemSignatures: true, streamMaxLength: '25M' }));
    if (!clamd) return;
    const signatures = clamd.signatures === 'system' ? 'freshclam\'s signatures from /var/lib/clamav' : 'the EICAR test signature only (no freshclam signatures in /var/lib/clamav: run sudo freshclam)';
    status.set('clamd', { name: 'clamd', state: 'on', address: `127.0.0.1:${clamd.port}`, note: signatures });
    analyzers.clamav = { host: '127.0.0.1', port: clamd.port, streamMaxBytes: 26_214_400 };
  };

  await Promise.all([spam(), spamassassin(), clamav()]);
  return {
    status: ORDER.map((name) => status.get(name)!),
    analyzers,
    async close() {
      await Promise.all(running.map((e) => e.stop()));
      await dns?.stop();
    },
  };
}

const PID_FILE = 'moat-engine.pid';

/**
 * An engine left running by a `moat local` that was killed -9 (engines do not watch their
 * parent, unlike the scanners) is stopped before a new one starts in its folder: two redis
 * servers must not write one append-only file. The pid is trusted only while that process still
 * runs an engine binary, so a reused pid is left alone.
 */
async function stopStale(dir: string): Promise<void> {
  const file = join(dir, PID_FILE);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  const cmdline = () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') || undefined; // empty: a zombie, as good as gone
    } catch {
      return undefined; // not running (or no /proc)
    }
  };
  if (!Number.isInteger(pid) || pid <= 1 || !/rspamd|redis-server|spamd|clamd/.test(cmdline() ?? '')) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; cmdline() !== undefined; waited += 50) {
    if (waited === 5000) process.kill(pid, 'SIGKILL');
    if (waited === 10_000) throw new Error(`the engine left running in ${dir} (pid ${pid}) does not stop`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first folder on the way to `dir` (which may not exist yet) that others cannot enter, if any. */
function unreachableByOthers(dir: string): string | undefined {
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return d;
    if (d === dirname(d)) return undefined;
  }
}

/** What installs every engine at once (scripts/setup.sh, run as root, apt-gets them). */
export const INSTALL_ALL = 'sudo bash scripts/setup.sh';

/**
 * The banner's engine lines (pure): each engine on with its address, each missing one with
 * the command that installs it, each that failed with its first error line.
 */
export function engineBannerLines(status: readonly EngineStatus[]): string[] {
  if (status.length === 0) return []; // engines: false
  const pad = (label: string) => `  ${label.padEnd(20)}`;
  const lines: string[] = [`${pad('engines')}shared by both scanners here (in production each scanner runs its own)`];
  for (const s of status) {
    if (s.state === 'on') lines.push(`${pad(`${s.name}`)}${s.address}   (${s.note})`);
    else if (s.state === 'failed') lines.push(`${pad(`${s.name}`)}FAILED to start, scanners run without it: ${s.error.split('\n')[0]}`);
    else if (s.state === 'unused') lines.push(`${pad(`${s.name}`)}not started (${s.note})`);
  }
  const missing = status.filter((s): s is Extract<EngineStatus, { state: 'missing' }> => s.state === 'missing');
  if (missing.length > 0) {
    lines.push(`${pad('not installed')}${missing.map((s) => s.name).join(', ')}: sudo apt-get install ${missing.flatMap((s) => s.packages).join(' ')}`);
    lines.push(`${pad('')}(or ${INSTALL_ALL}: every engine; then pnpm start again)`);
  }
  if (!status.some((s) => s.state === 'on' && s.name !== 'redis')) lines.push(`${pad('')}no engine is on: only Moat's own rules filter mail`);
  return lines;
}
