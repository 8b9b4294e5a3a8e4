/**
 * Balancer benchmark: `pnpm bench:balancer [-- --messages N ...]` (issue 5). The same
 * smtp-source load direct to a Postfix smtp-sink (or, with `--upstream scanner`, to a Moat
 * scanner relaying to one), through `moat balancer`, through nginx's stream proxy and through
 * HAProxy, in the same run; prints the proxies' CPU per connection
 * and per message, latency p50/p99 and the ratios, and writes test/bench/results/balancer.md.
 * See test/bench/README.md.
 */
import { cpus, release } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchLog, intOption, LOAD_ENVELOPE, pickByKeys } from './lib/bench-options.ts';
import { cleanupNow } from './lib/cleanup.ts';
import { requireExecutable, runCommand, sleep, withTimeout } from './lib/proc.ts';
import { runSmtpSource, smtpSourceArgs } from './lib/smtp-source.ts';
import { runLatencyClient } from './lib/latency-client.ts';
import { percentile } from './lib/stats.ts';
import { checkProxyPrerequisites, proxyVersions, startProxy, type MoatRelay, type ProxyKind, type UpstreamKind } from './lib/proxies.ts';
import { clockTickMs, treeCpuMs, treePeakRssKb } from './lib/proc-cpu.ts';
import {
  renderBalancerReport,
  cpuPerConnUs,
  cpuPerMsgUs,
  type BalancerModeSpec,
  type BalancerRunInfo,
  type BalancerTargetSpec,
  medianMeasurement,
  type ProxyMeasurement,
  type ProxyOutcome,
} from './lib/balancer-report.ts';

const here = dirname(fileURLToPath(import.meta.url));

const args = (() => {
  try {
    return parseArgs({
      options: {
        messages: { type: 'string', default: '5000' },
        'latency-messages': { type: 'string', default: '2000' },
        'latency-sessions': { type: 'string', default: '' },
        warmup: { type: 'string', default: '200' },
        size: { type: 'string', default: '10240' },
        targets: { type: 'string', default: 'direct,moat,nginx,haproxy' },
        modes: { type: 'string', default: 'new,reuse' },
        'new-sessions': { type: 'string', default: '100' },
        'reuse-sessions': { type: 'string', default: '20' },
        out: { type: 'string', default: '' },
        'no-write': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        'max-minutes': { type: 'string', default: '10' },
        'moat-relay': { type: 'string', default: 'auto' },
        upstream: { type: 'string', default: 'sink' },
        rounds: { type: 'string', default: '3' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`balancer-bench: ${(err as Error).message}\n(--help lists the options)\n`);
    process.exit(2);
  }
})();

if (args.help) {
  process.stdout.write(`Usage: pnpm bench:balancer [options]   (or: node test/bench/balancer-bench.ts [options])
  --messages N            messages per throughput run (default 5000)
  --latency-messages N    messages per latency run (default 2000; 0 skips latency)
  --latency-sessions N    sessions of the latency run (default: the mode's sessions, i.e. under the
                          same saturating load as the throughput run; a small N measures what the
                          proxy adds to a message when the machine is not saturated)
  --warmup N              warm-up messages before timing (default 200)
  --size BYTES            smtp-source payload size (default 10240)
  --targets LIST          direct,moat,nginx,haproxy (default: all; the order is the run order)
  --modes LIST            new,reuse (default: both)
  --new-sessions N        sessions in new-connection mode (default 100)
  --reuse-sessions N      sessions in reused-connection mode (default 20)
  --out FILE              report file (default test/bench/results/balancer.md, balancer-scanner.md with --upstream scanner)
  --no-write              print only
  --keep                  keep temp folders (configs, logs) for debugging
  --max-minutes N         hard limit for the whole run (default 10)
  --moat-relay auto|handles|stream  the balancer's relay setting, for A/B runs (default auto: libuv handles and
                          the native relay; handles: the bytes relayed in JavaScript; stream: net.Socket streams)
  --rounds N              measure every target N times, the run order rotated each round, and
                          report each figure's median (default 3)
  --upstream sink|scanner what every target forwards to (default sink: Postfix's smtp-sink, the proxy's
                          own cost; scanner: a Moat scanner relaying to a sink, the latency a client
                          sees in production with and without the balancer in front)
`);
  process.exit(0);
}

const messages = intOption('messages', args.messages, 1);
const latencyMessages = intOption('latency-messages', args['latency-messages'], 0);
const latencySessions = args['latency-sessions'] ? intOption('latency-sessions', args['latency-sessions'], 1) : undefined;
const warmup = intOption('warmup', args.warmup, 0);
const size = intOption('size', args.size, 1);
const newSessions = intOption('new-sessions', args['new-sessions'], 1);
const reuseSessions = intOption('reuse-sessions', args['reuse-sessions'], 1);
const maxMinutes = intOption('max-minutes', args['max-minutes'], 1);
const rounds = intOption('rounds', args.rounds, 1);
const keep = args.keep ?? false;
const moatRelay = ((): MoatRelay => {
  const v = args['moat-relay'];
  if (v === 'auto' || v === 'handles' || v === 'stream') return v;
  process.stderr.write(`balancer-bench: --moat-relay must be auto, handles or stream, not ${v}\n`);
  process.exit(2);
})();

const upstream = ((): UpstreamKind => {
  const v = args.upstream;
  if (v === 'sink' || v === 'scanner') return v;
  process.stderr.write(`balancer-bench: --upstream must be sink or scanner, not ${v}\n`);
  process.exit(2);
})();

const outFile = args.out || join(here, 'results', upstream === 'scanner' ? 'balancer-scanner.md' : 'balancer.md');

const { from, to, helo } = LOAD_ENVELOPE;

const allModes: BalancerModeSpec[] = [
  { key: 'new', title: `New connection per message, ${newSessions} sessions`, sessions: newSessions, reuse: false },
  { key: 'reuse', title: `Reused connections, ${reuseSessions} sessions`, sessions: reuseSessions, reuse: true },
];
const allTargets: BalancerTargetSpec[] = [
  { key: 'direct', column: 'direct' },
  { key: 'moat', column: 'Moat balancer' },
  { key: 'nginx', column: 'nginx' },
  { key: 'haproxy', column: 'HAProxy' },
];

const modes = pickByKeys(allModes, args.modes ?? '', 'mode');
// The table always shows direct, Moat, nginx, HAProxy in that order; the run order is --targets'.
const runOrder = pickByKeys(allTargets, args.targets ?? '', 'target');
const targets = allTargets.filter((t) => runOrder.includes(t));

const log = benchLog;

// Generous per-step limits: they catch a hung daemon, not a slow one.
const sendTimeoutMs = (n: number): number => 30_000 + n * 20;
const deliverTimeoutMs = (n: number): number => 30_000 + n * 10;

async function measure(kind: ProxyKind, column: string, mode: BalancerModeSpec): Promise<ProxyMeasurement> {
  const target = await withTimeout(startProxy(kind, keep, moatRelay, upstream), 60_000, `starting ${column}`);
  try {
    const received = target.sink.received;
    const base = { port: target.port, sessions: mode.sessions, reuse: mode.reuse, size, from, to, helo };
    let expected = received.count();
    if (warmup > 0) {
      await runSmtpSource({ ...base, messages: warmup, timeoutMs: sendTimeoutMs(warmup) });
      expected += warmup;
      await received.waitFor(expected, deliverTimeoutMs(warmup), `${column}: the sink receiving the warm-up`);
    }

    const cpu0 = target.pid === undefined ? undefined : treeCpuMs(target.pid);
    const src = await runSmtpSource({ ...base, messages, timeoutMs: sendTimeoutMs(messages) });
    expected += messages;
    const doneAt = await received.waitFor(expected, deliverTimeoutMs(messages), `${column}: the sink receiving ${messages} messages`);
    // smtp-source has exited, so every session is closed on the client side; give the proxy a
    // moment to finish closing its upstream halves, which is part of a connection's cost.
    await sleep(200);
    const cpuMs = target.pid === undefined || cpu0 === undefined ? undefined : treeCpuMs(target.pid) - cpu0;
    const deliveredMs = doneAt - src.startedAt;
    const connections = mode.reuse ? Math.min(mode.sessions, messages) : messages;
    const partial: ProxyMeasurement = {
      messages,
      connections,
      deliveredMs,
      cpuMs,
      latency: { p50: NaN, p99: NaN, samples: 0, failures: 0, firstError: undefined },
      peakRssKb: undefined,
      processes: 1,
    };
    log(`  smtp-source: ${messages} messages in ${(deliveredMs / 1000).toFixed(2)} s (${Math.round((messages * 1000) / deliveredMs)} msg/s)` +
      (cpuMs === undefined ? '' : `, proxy CPU ${cpuMs.toFixed(0)} ms = ${cpuPerConnUs(partial)?.toFixed(0)} µs/connection, ${cpuPerMsgUs(partial)?.toFixed(0)} µs/message`));

    if (latencyMessages > 0) {
      const lat = await runLatencyClient({ ...base, sessions: latencySessions ?? base.sessions, messages: latencyMessages, replyTimeoutMs: 30_000, timeoutMs: sendTimeoutMs(latencyMessages) * 2 });
      const sorted = [...lat.samples].sort((a, b) => a - b);
      partial.latency = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), samples: sorted.length, failures: lat.failures, firstError: lat.firstError };
      expected += lat.samples.length;
      await received.waitFor(expected, deliverTimeoutMs(latencyMessages), `${column}: the sink receiving the latency run`);
      log(`  latency: ${sorted.length} messages in ${(lat.wallMs / 1000).toFixed(2)} s, p50 ${partial.latency.p50.toFixed(2)} ms, p99 ${partial.latency.p99.toFixed(2)} ms` +
        (lat.failures ? `, ${lat.failures} failed (${lat.firstError})` : ''));
    }

    // Nothing more may arrive: a duplicate or a lost message is an error, not a figure.
    await sleep(300);
    const final = received.count();
    const slack = partial.latency.failures;
    if (final < expected || final > expected + slack) {
      throw new Error(`the sink behind ${column} received ${final} messages, expected ${expected}${slack ? `..${expected + slack}` : ''}`);
    }
    if (target.pid !== undefined) {
      const rss = treePeakRssKb(target.pid);
      partial.peakRssKb = rss.kb;
      partial.processes = rss.processes;
    }
    return partial;
  } finally {
    await withTimeout(target.stop(), 30_000, `stopping ${column}`).catch((err: Error) => log(`stop failed: ${err.message}`));
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
  requireExecutable('smtp-sink', 'apt-get install -y postfix');
  checkProxyPrerequisites(targets.map((t) => t.key));
  const started = Date.now();
  const postconf = (await runCommand(requireExecutable('postconf', 'apt-get install -y postfix'), ['-h', 'mail_version'], 10_000).catch(() => undefined))?.stdout.trim();
  const versions = await proxyVersions();
  const results = new Map<string, Map<string, ProxyOutcome>>();
  let failed = false;

  for (const mode of modes) {
    const byRound = new Map<string, ProxyMeasurement[]>();
    const errors = new Map<string, string>();
    for (let round = 0; round < rounds; round++) {
      // Rotate the run order each round, so no target always runs first (or after the same one).
      const order = runOrder.map((_, i) => runOrder[(i + round) % runOrder.length]!);
      for (const t of order) {
        if (errors.has(t.key)) continue;
        log(`${t.column} — ${mode.title}${rounds > 1 ? ` (round ${round + 1} of ${rounds})` : ''}`);
        try {
          const m = await measure(t.key, t.column, mode);
          byRound.set(t.key, [...(byRound.get(t.key) ?? []), m]);
        } catch (err) {
          failed = true;
          const msg = (err as Error).message;
          log(`  FAILED: ${msg}`);
          errors.set(t.key, msg);
        }
      }
    }
    const byTarget = new Map<string, ProxyOutcome>();
    results.set(mode.key, byTarget);
    for (const t of runOrder) {
      const error = errors.get(t.key);
      const ms = byRound.get(t.key);
      byTarget.set(t.key, error !== undefined || !ms ? { ok: false, error: error ?? 'not measured' } : { ok: true, m: medianMeasurement(ms) });
    }
  }

  const cpu = cpus();
  const info: BalancerRunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? '?',
    kernel: release(),
    node: process.version,
    postfix: postconf || '?',
    nginx: versions.nginx,
    haproxy: versions.haproxy,
    messages,
    warmup,
    latencyMessages,
    latencySessions,
    size,
    command: `node test/bench/balancer-bench.ts ${process.argv.slice(2).join(' ')}`.trim(),
    moatRelay,
    upstream,
    rounds,
    durationS: (Date.now() - started) / 1000,
    tickMs: clockTickMs(),
    sourceArgs: Object.fromEntries(
      modes.map((m) => [
        m.key,
        ['smtp-source', ...smtpSourceArgs({ port: 0, messages, sessions: m.sessions, reuse: m.reuse, size, from, to, helo, timeoutMs: 0 })]
          .join(' ')
          .replace('127.0.0.1:0', '127.0.0.1:PORT'),
      ]),
    ),
  };
  const report = renderBalancerReport(info, modes, targets, results);
  process.stdout.write(`\n${report}`);
  if (!args['no-write']) {
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, report);
    log(`written to ${relative(process.cwd(), outFile) || outFile}`);
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
