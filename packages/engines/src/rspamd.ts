import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findBinary, startDaemon } from './daemon.ts';
import { freePort, readyOrStop, workDir } from './workdir.ts';

export interface Rspamd {
  /** The normal worker's base URL (`/checkv2`). */
  readonly url: string;
  /** The controller's base URL (`/learnspam`, `/learnham`, `/fuzzyadd`…). */
  readonly controllerUrl: string;
  /** The fuzzy storage worker (`host:port`, UDP). */
  readonly fuzzyAddress: string;
  /** Whether the fuzzy storage is on (`fuzzy: true` with `redis`): `/fuzzyadd` writes it, `/checkv2` reports `LOCAL_FUZZY_*`. */
  readonly fuzzy: boolean;
  readonly dir: string;
  readonly pid: number;
  /** The last of what it wrote (errors only: its log level is `error`), for a test's failure message. */
  output(): string;
  stop(): Promise<void>;
}

export interface RspamdOptions {
  /** Keep config and state here (default: a temp folder removed on stop). */
  readonly dir?: string;
  /** Redis (`host:port`) for Bayes; without it Rspamd does not learn. */
  readonly redis?: string;
  /**
   * Fuzzy storage (needs `redis`): the fuzzy worker keeps its hashes in that Redis, and one
   * writable `fuzzy_check` rule, `local`, reads and writes it (the stock rule, which asks
   * rspamd.com's public storage, is replaced: there is no network here, and Moat's fuzzy hashes
   * are the cluster's own). Flag 1 (what Moat's learner adds for spam) is `LOCAL_FUZZY_DENIED`;
   * flag 2 `LOCAL_FUZZY_PROB`, flag 3 `LOCAL_FUZZY_WHITE`. Hashes shingles of text parts of at
   * least 64 words (shorter ones by their whole hash) in messages of at least 1 KiB.
   */
  readonly fuzzy?: boolean;
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
 * the machine). No map is downloaded; GTUBE and the local symbols work. Its guess of a text's
 * language is deterministic (`steadyLanguages`), so a message learned twice is the same
 * tokens twice and a reversal is recognized. With `redis`, Bayes
 * lives there (Rspamd 3.4 keeps it only in Redis), auto-learning off; with `fuzzy` too, its
 * fuzzy storage (hashes in that Redis, one writable `fuzzy_check` rule: `LOCAL_FUZZY_*`). The
 * first start builds its symbol cache (~11 s here). Ready when `/ping` answers; stopped by its pid.
 */
export async function startRspamd(options: RspamdOptions = {}): Promise<Rspamd> {
  const binary = findBinary('rspamd');
  if (!binary) throw new Error('rspamd is not installed (Debian package rspamd)');
  if (options.fuzzy && !options.redis) throw new Error('startRspamd: fuzzy needs redis (its fuzzy storage lives there)');
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
  const stock = join(dirname(dirname(binary)), 'share', 'rspamd', 'languages');
  if (existsSync(stock)) {
    steadyLanguages(stock, join(tmp.path, 'languages'));
    // `lang_detection` is a top-level section: common.conf includes `$LOCAL_CONFDIR/rspamd.conf.local`.
    writeFileSync(join(tmp.path, 'rspamd.conf.local'), `lang_detection { languages = "${join(tmp.path, 'languages')}"; }\n`);
  }
  if (options.redis) {
    writeFileSync(join(local, 'redis.conf'), `servers = "${options.redis}";\n`);
    // Moat teaches every node the same mail (learn events); an engine that teaches itself would make nodes diverge.
    writeFileSync(join(local, 'classifier-bayes.conf'), 'autolearn = false;\nmin_learns = 200;\n');
    // Rspamd greylists by itself once it has Redis: Moat greylists cluster-wide (its rules'
    // greylisting) and decides on its own score scale, so Rspamd only scores.
    writeFileSync(join(local, 'greylist.conf'), 'enabled = false;\n');
  }
  if (options.fuzzy && options.redis) {
    writeFileSync(join(local, 'worker-fuzzy.inc'), fuzzyWorker(fuzzy, options.redis));
    writeFileSync(join(override, 'fuzzy_check.conf'), fuzzyCheck(fuzzy));
    writeFileSync(join(local, 'fuzzy_group.conf'), FUZZY_GROUP);
  }
  const user = userInfo().username;
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const daemon = startDaemon(binary, [
    '-f', '-i', '-c', '/etc/rspamd/rspamd.conf', '-u', user, '-g', group,
    `--var=LOCAL_CONFDIR=${tmp.path}`, `--var=DBDIR=${join(tmp.path, 'db')}`, `--var=RUNDIR=${join(tmp.path, 'run')}`, `--var=LOGDIR=${join(tmp.path, 'log')}`,
  ]);
  const url = `http://127.0.0.1:${normal}`;
  const stop = await readyOrStop('rspamd', daemon, tmp, () => ping(url), options.startTimeoutMs ?? 90_000, 100);
  return {
    url,
    controllerUrl: `http://127.0.0.1:${controller}`,
    fuzzyAddress: `127.0.0.1:${fuzzy}`,
    fuzzy: options.fuzzy === true,
    dir: tmp.path,
    pid: daemon.child.pid!,
    output: () => daemon.output(),
    stop,
  };
}

/**
 * Rspamd's language files, from `stock` into `target`, with the n-gram tables of every language
 * but English emptied. Rspamd 3.4 names a text's language by its stop words when it finds them
 * (every language keeps its own here), else by the n-grams of words it picks at random
 * ("randomly selected 80 words" in its debug log): the same message got English, Norwegian or
 * German from one learn to the next, so other stems, other Bayes tokens, and another key in its
 * learn cache (a hash of the tokens), where a relearn as ham must find the earlier spam to
 * unlearn it. With English the only n-gram candidate, a text without stop words is English
 * every time. `docker/engines/rspamd-languages.sh` does the same for the compose image and an
 * Rspamd of one's own (operator guide).
 */
function steadyLanguages(stock: string, target: string): void {
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(stock)) {
    if (name === 'stop_words') copyFileSync(join(stock, name), join(target, name));
    if (!name.endsWith('.json')) continue;
    const language = JSON.parse(readFileSync(join(stock, name), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(target, name), JSON.stringify(name === 'en.json' ? language : { ...language, freq: {} }));
  }
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).startsWith('pong');
  } catch {
    return false;
  }
}

/** The fuzzy storage worker: hashes in Redis, kept 90 days, written only from loopback (the controller's `/fuzzyadd`), within 0.2 s. */
function fuzzyWorker(port: number, redis: string): string {
  return [
    `bind_socket = "127.0.0.1:${port}";`,
    'count = 1;',
    'backend = "redis";',
    `servers = "${redis}";`,
    'expire = 90d;',
    // Added and deleted hashes are queued and written to Redis every `sync` (60 s by default): a lesson should count at once.
    'sync = 0.2s;',
    'allow_update = ["127.0.0.1", "::1"];',
    '',
  ].join('\n');
}

/**
 * `fuzzy_check` with Moat's one rule (override.d: the stock rspamd.com rule is dropped). Not
 * encrypted: worker and rule talk over loopback only. `max_score` 20: a hash added once with
 * weight 10 (Moat's learner) scores about 0.88 of the symbol's weight, more as nodes or
 * reports add weight.
 */
function fuzzyCheck(port: number): string {
  return `min_bytes = 1k;
timeout = 1s;
retransmits = 1;
rule "local" {
  algorithm = "mumhash";
  servers = "127.0.0.1:${port}";
  symbol = "LOCAL_FUZZY_UNKNOWN";
  mime_types = ["*"];
  max_score = 20.0;
  read_only = false;
  skip_unknown = true;
  short_text_direct_hash = true;
  min_length = 64;
  fuzzy_map = {
    LOCAL_FUZZY_DENIED { max_score = 20.0; flag = 1; }
    LOCAL_FUZZY_PROB { max_score = 10.0; flag = 2; }
    LOCAL_FUZZY_WHITE { max_score = 2.0; flag = 3; }
  }
}
`;
}

/** The local symbols' weights, as the stock ones for rspamd.com's storage. */
const FUZZY_GROUP = `symbols = {
  "LOCAL_FUZZY_UNKNOWN" { weight = 5.0; description = "Generic fuzzy hash match, this node's fuzzy storage"; }
  "LOCAL_FUZZY_DENIED" { weight = 12.0; description = "Denied fuzzy hash (taught as spam), this node's fuzzy storage"; }
  "LOCAL_FUZZY_PROB" { weight = 5.0; description = "Probable fuzzy hash, this node's fuzzy storage"; }
  "LOCAL_FUZZY_WHITE" { weight = -2.1; description = "Whitelisted fuzzy hash, this node's fuzzy storage"; }
}
`;
