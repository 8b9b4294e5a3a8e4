/**
 * Scanner benchmark: `pnpm bench:scanner [-- --messages N ...]`. Drives the Moat scanner and
 * two baselines (a bare smtp-server sink, a private Postfix with its queue on disk) with
 * Postfix's smtp-source, in two modes, and prints a markdown table that is also written to
 * test/bench/results/scanner.md. See test/bench/README.md.
 */
import { cpus, totalmem, release } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { benchLog, intOption, LOAD_ENVELOPE, pickByKeys } from './lib/bench-options.ts';
import { cleanupNow } from './lib/cleanup.ts';
import { requireExecutable, runCommand, sleep, withTimeout } from './lib/proc.ts';
import { runSmtpSource, smtpSourceArgs } from './lib/smtp-source.ts';
import { runLatencyClient } from './lib/latency-client.ts';
import { percentile } from './lib/stats.ts';
import { startBareSink } from './lib/bare-sink.ts';
import { startPostfix } from './lib/postfix-instance.ts';
import { startScanner, repoRoot } from './lib/scanner-instance.ts';
import { ANALYZER_KEYS, startAnalyzerPeers, type AnalyzerKey } from './lib/analyzer-peers.ts';
import { renderAnalyzerCost, renderReport, type Measurement, type ModeSpec, type Outcome, type RunInfo, type TargetSpec } from './lib/report.ts';
import type { Target } from './lib/target.ts';

const here = dirname(fileURLToPath(import.meta.url));

const args = (() => {
  try {
    return parseArgs({
      options: {
        messages: { type: 'string', default: '5000' },
        'latency-messages': { type: 'string', default: '2000' },
        warmup: { type: 'string', default: '200' },
        size: { type: 'string', default: '10240' },
        targets: { type: 'string', default: 'sink,postfix,postfix-relay,scanner' },
        modes: { type: 'string', default: 'new,reuse' },
        'new-sessions': { type: 'string', default: '200' },
        'reuse-sessions': { type: 'string', default: '20' },
        'relay-connections': { type: 'string', default: '10' },
        'scanner-node-args': { type: 'string', default: '' },
        'scanner-log-level': { type: 'string', default: 'warn' },
        out: { type: 'string', default: join(here, 'results', 'scanner.md') },
        'no-write': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        'no-rspamd': { type: 'boolean', default: false },
        'max-minutes': { type: 'string', default: '15' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`scanner-bench: ${(err as Error).message}\n(--help lists the options)\n`);
    process.exit(2);
  }
})();


if (args.help) {
  process.stdout.write(`Usage: pnpm bench:scanner [options]   (or: node test/bench/scanner-bench.ts [options])
  --messages N            messages per throughput run (default 5000)
  --latency-messages N    messages per latency run (default 2000; 0 skips latency)
  --warmup N              warm-up messages before timing (default 200)
  --size BYTES            smtp-source payload size (default 10240)
  --targets LIST          scanner,no-retention,clamav,rspamd,auth,dnsbl,uribl,analyzers,sink,postfix,
                          postfix-relay (default: scanner,sink,postfix,postfix-relay).
                          postfix: Postfix discarding after its disk queue; postfix-relay:
                          Postfix relaying to an smtp-sink, as the scanner does. clamav … uribl: the scanner with
                          that one analyzer on; analyzers: with every one on (clamd, dnsmasq
                          and, when installed, rspamd started on loopback). With any of them
                          and scanner, an "analyzer cost" table gives each one's msg/s as a
                          ratio to the bare pipeline (scanner) of the same run
                          no-retention: the scanner keeping no copies (retention is on by
                          default)
  --no-rspamd             leave rspamd out of the analyzers target
  --modes LIST            new,reuse (default: both)
  --new-sessions N        sessions in new-connection mode (default 200)
  --reuse-sessions N      sessions in reused-connection mode (default 20)
  --relay-connections N   scanner relay.maxConnections (default 10)
  --scanner-node-args=S   extra Node flags for the scanner, e.g. --scanner-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"
  --scanner-log-level=L   the scanner's log.level (default warn: no line per message; info: three, as in production)
  --out FILE              report file (default test/bench/results/scanner.md)
  --no-write              print only
  --keep                  keep temp folders (logs, configs) for debugging
  --max-minutes N         hard limit for the whole run (default 15)
`);
  process.exit(0);
}

const messages = intOption('messages', args.messages, 1);
const latencyMessages = intOption('latency-messages', args['latency-messages'], 0);
const warmup = intOption('warmup', args.warmup, 0);
const size = intOption('size', args.size, 1);
const newSessions = intOption('new-sessions', args['new-sessions'], 1);
const reuseSessions = intOption('reuse-sessions', args['reuse-sessions'], 1);
const relayConnections = intOption('relay-connections', args['relay-connections'], 1);
const maxMinutes = intOption('max-minutes', args['max-minutes'], 1);
const keep = args.keep ?? false;

const { from, to, helo } = LOAD_ENVELOPE;

const allModes: ModeSpec[] = [
  { key: 'new', title: `New connection per message, ${newSessions} sessions`, sessions: newSessions, reuse: false },
  { key: 'reuse', title: `Reused connections, ${reuseSessions} sessions`, sessions: reuseSessions, reuse: true },
];
const nodeArgs = (args['scanner-node-args'] ?? '').split(' ').filter(Boolean);
const logLevel = args['scanner-log-level'] ?? 'warn';
if (!['trace', 'debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) throw new Error(`--scanner-log-level must be a pino level, got ${logLevel}`);

/** The scanner with the analyzers in `only` on, their engines started beside it and stopped with it. */
async function startScannerWith(only: readonly AnalyzerKey[]): Promise<Target> {
  const peers = await startAnalyzerPeers(only);
  log(`  analyzers on: ${peers.engines}`);
  try {
    const target = await startScanner({ keep, relayConnections, nodeArgs, logLevel, analyzers: peers.analyzers });
    return { ...target, rss: () => target.rss(), stop: async () => { await target.stop(); await peers.stop(); } };
  } catch (err) {
    await peers.stop();
    throw err;
  }
}

const oneAnalyzer = (key: AnalyzerKey): TargetSpec & { start: () => Promise<Target>; analyzer: true } => ({
  key, column: `scanner + ${key}`, short: `+${key}`, analyzer: true, start: () => startScannerWith([key]),
});

const allTargets: (TargetSpec & { start: () => Promise<Target>; analyzer?: true })[] = [
  { key: 'scanner', column: 'Moat scanner', short: 'scanner', start: () => startScanner({ keep, relayConnections, nodeArgs, logLevel }) },
  ...ANALYZER_KEYS.map(oneAnalyzer),
  // What keeping a copy of every message costs (docs/retention.md): the same scanner without it.
  { key: 'no-retention', column: 'Moat scanner, retention off', short: 'scanner-noretain', start: () => startScanner({ keep, relayConnections, nodeArgs, logLevel, retention: false }) },
  {
    key: 'analyzers',
    column: 'Moat scanner, all analyzers on',
    short: 'scanner+analyzers',
    analyzer: true,
    start: () => startScannerWith(ANALYZER_KEYS.filter((k) => k !== 'rspamd' || !args['no-rspamd'])),
  },
  { key: 'sink', column: 'bare smtp-server sink', short: 'sink', start: () => startBareSink() },
  {
    key: 'postfix',
    column: 'Postfix (disk queue)',
    short: 'Postfix',
    start: () => startPostfix({ keep, processLimit: Math.max(100, newSessions, reuseSessions) }),
  },
  {
    // The same job as the scanner's: queue on disk, then relay over SMTP to the same kind of sink.
    key: 'postfix-relay',
    column: 'Postfix (disk queue, relay)',
    short: 'Postfix relay',
    start: () => startPostfix({ keep, processLimit: Math.max(100, newSessions, reuseSessions), relay: true }),
  },
];

// Tables keep the declared order of modes and targets, whatever order the options list them in.
const modes = inDeclaredOrder(allModes, pickByKeys(allModes, args.modes ?? '', 'mode'));
const targets = inDeclaredOrder(allTargets, pickByKeys(allTargets, args.targets ?? '', 'target'));

const log = benchLog;
function inDeclaredOrder<T>(all: readonly T[], picked: readonly T[]): T[] {
  return all.filter((x) => picked.includes(x));
}

// Generous per-step limits: they catch a hung daemon, not a slow one.
const sendTimeoutMs = (n: number): number => 30_000 + n * 20;
const deliverTimeoutMs = (n: number): number => 30_000 + n * 10;

async function measure(spec: TargetSpec & { start: () => Promise<Target> }, mode: ModeSpec, deliveredHow: Record<string, string>): Promise<Measurement> {
  const target = await withTimeout(spec.start(), 120_000, `starting ${spec.column}`);
  deliveredHow[spec.key] = target.deliveredHow;
  try {
    const base = { port: target.port, sessions: mode.sessions, reuse: mode.reuse, size, from, to, helo };
    let expected = await target.delivered.refresh();
    if (warmup > 0) {
      await runSmtpSource({ ...base, messages: warmup, timeoutMs: sendTimeoutMs(warmup) });
      expected += warmup;
      await target.delivered.waitFor(expected, deliverTimeoutMs(warmup), `${spec.column} delivering the warm-up`);
    }

    const cpuBefore = target.cpuMs();
    const src = await runSmtpSource({ ...base, messages, timeoutMs: sendTimeoutMs(messages) });
    expected += messages;
    const doneAt = await target.delivered.waitFor(expected, deliverTimeoutMs(messages), `${spec.column} delivering ${messages} messages`);
    const cpuMsPerMessage = (target.cpuMs() - cpuBefore) / messages;
    const deliveredMs = doneAt - src.startedAt;
    log(`  smtp-source: ${messages} accepted in ${(src.elapsedMs / 1000).toFixed(2)} s, delivered in ${(deliveredMs / 1000).toFixed(2)} s ` +
      `(${Math.round((messages * 1000) / deliveredMs)} msg/s), CPU ${cpuMsPerMessage.toFixed(3)} ms/msg`);

    let latency: Measurement['latency'] = { p50: NaN, p99: NaN, samples: 0, failures: 0, firstError: undefined };
    if (latencyMessages > 0) {
      const lat = await runLatencyClient({
        ...base,
        messages: latencyMessages,
        replyTimeoutMs: 30_000,
        timeoutMs: sendTimeoutMs(latencyMessages) * 2,
      });
      const sorted = [...lat.samples].sort((a, b) => a - b);
      latency = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), samples: sorted.length, failures: lat.failures, firstError: lat.firstError };
      expected += lat.samples.length;
      await target.delivered.waitFor(expected, deliverTimeoutMs(latencyMessages), `${spec.column} delivering the latency run`);
      log(`  latency: ${sorted.length} messages in ${(lat.wallMs / 1000).toFixed(2)} s, p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms` +
        (lat.failures ? `, ${lat.failures} failed (${lat.firstError})` : ''));
    }

    // Nothing more may arrive: a duplicate or a lost message is an error, not a figure.
    await sleep(300);
    const final = await target.delivered.refresh();
    const slack = latency.failures; // a message whose 250 the client never saw may still have been accepted
    if (final < expected || final > expected + slack) {
      throw new Error(`${spec.column} delivered ${final} messages, expected ${expected}${slack ? `..${expected + slack}` : ''}`);
    }
    const rss = target.rss();
    log(`  peak memory ${(rss.peakKb / 1024).toFixed(0)} MiB (${rss.method}` +
      (rss.processes > 1 ? `, up to ${rss.processes} processes; summed VmRSS peak ${((rss.rssSumKb ?? 0) / 1024).toFixed(0)} MiB)` : ')'));
    return { messages, deliveredMs, acceptedMs: src.elapsedMs, latency, rss, cpuMsPerMessage };
  } finally {
    await withTimeout(target.stop(), 60_000, `stopping ${spec.column}`).catch((err: Error) => log(`stop failed: ${err.message}`));
  }
}

function version(pkg: string): string {
  try {
    const req = createRequire(join(repoRoot, 'test', 'package.json'));
    return (JSON.parse(readFileSync(req.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

async function main(): Promise<number> {
  const hardStop = setTimeout(() => {
    log(`the whole run passed --max-minutes ${maxMinutes}: aborting`);
    cleanupNow();
    process.exit(2);
  }, maxMinutes * 60_000);
  hardStop.unref();

  requireExecutable('smtp-source', 'apt-get install -y postfix');
  const started = Date.now();
  const postconf = (await runCommand(requireExecutable('postconf', 'apt-get install -y postfix'), ['-h', 'mail_version'], 10_000).catch(() => undefined))?.stdout.trim();
  const results = new Map<string, Map<string, Outcome>>();
  const deliveredHow: Record<string, string> = {};
  let failed = false;

  for (const mode of modes) {
    const byTarget = new Map<string, Outcome>();
    results.set(mode.key, byTarget);
    for (const t of targets) {
      log(`${t.column} — ${mode.title}`);
      try {
        byTarget.set(t.key, { ok: true, m: await measure(t, mode, deliveredHow) });
      } catch (err) {
        failed = true;
        const msg = (err as Error).message;
        log(`  FAILED: ${msg}`);
        byTarget.set(t.key, { ok: false, error: msg });
      }
    }
  }

  const cpu = cpus();
  const info: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? '?',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    postfix: postconf || '?',
    smtpServer: version('smtp-server'),
    messages,
    warmup,
    latencyMessages,
    size,
    command: `node test/bench/scanner-bench.ts ${process.argv.slice(2).join(' ')}`.trim(),
    durationS: (Date.now() - started) / 1000,
    deliveredHow,
    sourceArgs: Object.fromEntries(
      modes.map((m) => [
        m.key,
        ['smtp-source', ...smtpSourceArgs({ port: 0, messages, sessions: m.sessions, reuse: m.reuse, size, from, to, helo, timeoutMs: 0 })]
          .join(' ')
          .replace('127.0.0.1:0', '127.0.0.1:PORT'),
      ]),
    ),
  };
  const analyzerTargets = targets.filter((t) => t.analyzer);
  const report = renderReport(info, modes, targets.filter((t) => !t.analyzer), results, 'scanner') +
    (analyzerTargets.length > 0 ? renderAnalyzerCost(modes, analyzerTargets, results, 'scanner') : '');
  process.stdout.write(`\n${report}`);
  if (!args['no-write']) {
    mkdirSync(dirname(args.out as string), { recursive: true });
    writeFileSync(args.out as string, report);
    log(`written to ${relative(process.cwd(), args.out as string) || args.out}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    cleanupNow();
    process.exit(code);
  },
  (err: Error) => {
    log(`error: ${err.message}`);
    cleanupNow();
    process.exit(1);
  },
);
