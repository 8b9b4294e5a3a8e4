import { readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { procStatusKb } from '../helpers/proc-memory.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';
import { audit } from './audit.ts';
import { startCluster, VIP } from './cluster.ts';
import { growthOf, type Sample } from './growth.ts';
import { messageIdOf, startLoad } from './load.ts';
import { masterFacts, scannerOutbox } from './master-facts.ts';

/**
 * `pnpm test:soak [--minutes N]`: the fault run's cluster (master, three scanners sharing the
 * virtual address, a downstream) under the same steady load for N minutes, no faults. Every
 * few seconds it samples each node's resident memory (VmRSS) and open file descriptors
 * (/proc/PID/fd); after a warm-up, it compares the first and last quarter of the samples and
 * fits a slope. Exit 1 if a node grew past the bounds or a message was lost.
 */
const USAGE = `usage: pnpm test:soak [--minutes 5] [--interval 5] [--warmup 30] [--rss-bound-mib 16] [--rss-bound-pct 10] [--fd-bound 8]
  --minutes        length of the measured run (after the warm-up)
  --interval       seconds between two samples
  --warmup         seconds of load before sampling starts (JIT, caches, SQLite page cache)
  --rss-bound-mib, --rss-bound-pct   a node fails if its RSS grew (last quarter - first quarter)
                   by more than the larger of these
  --fd-bound       a node fails if its open descriptors grew by more than this (quarter means)`;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    interval: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '30' },
    'rss-bound-mib': { type: 'string', default: '16' },
    'rss-bound-pct': { type: 'string', default: '10' },
    'fd-bound': { type: 'string', default: '8' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const num = (key: keyof typeof args): number => {
  const n = Number(args[key]);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`--${key}: not a number: ${String(args[key])}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
};
const minutes = num('minutes');
const intervalS = num('interval');
const warmupS = num('warmup');
const rssBoundMib = num('rss-bound-mib');
const rssBoundPct = num('rss-bound-pct');
const fdBound = num('fd-bound');
const RESULTS = fileURLToPath(new URL('../bench/results/soak.md', import.meta.url));
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

const cluster = await startCluster();
const load = startLoad({ host: VIP, port: cluster.vipPort, localAddress: '127.0.0.5', concurrency: 4, pauseMs: 25, quarantineEvery: 10 });
const samples = new Map<string, { rss: Sample[]; fds: Sample[] }>();
const pids = cluster.pids();
let exitCode = 0;
try {
  log(`cluster up (${[...pids].map(([n, p]) => `${n}=${p}`).join(' ')}); warm-up ${warmupS} s, then ${minutes} min of samples every ${intervalS} s`);
  await sleep(warmupS * 1000);
  const started = Date.now();
  const end = started + minutes * 60_000;
  while (Date.now() < end) {
    const t = (Date.now() - started) / 1000;
    for (const [name, pid] of pids) {
      const s = samples.get(name) ?? { rss: [], fds: [] };
      samples.set(name, s);
      s.rss.push({ t, value: procStatusKb(pid, 'VmRSS') / 1024 });
      s.fds.push({ t, value: readdirSync(`/proc/${pid}/fd`).length });
    }
    const n = samples.get('master')!.rss.length;
    if (n % 12 === 0) log(`${Math.round(t)} s: ${load.attempts.length} messages sent; RSS MiB ${[...samples].map(([k, v]) => `${k} ${v.rss.at(-1)!.value.toFixed(0)}`).join(', ')}`);
    await sleep(intervalS * 1000);
  }
  await load.stop();
  const accepted = load.attempts.filter((a) => a.outcome === 'accepted' && !a.quarantine).map((a) => a.messageId);
  await waitUntil(() => { const got = new Set(cluster.downstream.received.map((m) => messageIdOf(m.raw))); return accepted.every((id) => got.has(id)); }, 'every accepted message downstream', 120_000, 500);
  await waitUntil(() => cluster.scanners.every((s) => scannerOutbox(s.dataDir).pending === 0), 'every outbox empty', 60_000, 500);
  await cluster.close();
  const measured = minutes * 60 + warmupS;
  const result = audit([{ label: 'baseline', fault: 'soak', seconds: measured }], load.attempts, cluster.downstream.received.map((m) => messageIdOf(m.raw)), masterFacts(cluster.masterDb, cluster.scanners));

  const rows: string[] = [];
  const failures: string[] = [...result.problems];
  for (const [name, s] of samples) {
    const rss = growthOf(s.rss);
    const fds = growthOf(s.fds);
    const rssBound = Math.max(rssBoundMib, (rss.firstQuarter * rssBoundPct) / 100);
    const ok = rss.growth <= rssBound && fds.growth <= fdBound;
    if (rss.growth > rssBound) failures.push(`${name}: RSS grew ${rss.growth.toFixed(1)} MiB (bound ${rssBound.toFixed(1)} MiB)`);
    if (fds.growth > fdBound) failures.push(`${name}: open descriptors grew ${fds.growth.toFixed(1)} (bound ${fdBound})`);
    rows.push(`| ${name} | ${rss.firstQuarter.toFixed(1)} | ${rss.lastQuarter.toFixed(1)} | ${signed(rss.growth, 1)} (bound ${rssBound.toFixed(1)}) | ${signed(rss.slopePerMinute, 2)} | ${rss.min.toFixed(0)}–${rss.max.toFixed(0)} | ${fds.firstQuarter.toFixed(1)} | ${fds.lastQuarter.toFixed(1)} | ${signed(fds.growth, 1)} (bound ${fdBound}) | ${signed(fds.slopePerMinute, 2)} | ${fds.min}–${fds.max} | ${ok ? 'ok' : '**FAIL**'} |`);
  }
  const t = result.total;
  const report = [
    '# Soak run (`pnpm test:soak`)',
    '',
    `${new Date().toISOString()}, ${availableParallelism()} cores, Node ${process.version}. \`pnpm test:soak --minutes ${minutes} --interval ${intervalS} --warmup ${warmupS}\`: master and three scanners (embedded balancers, one holds the virtual address) as child processes, one client with 4 sessions (one message per connection, 25 ms pause, every 10th quarantined) through the virtual address. ${samples.get('master')!.rss.length} samples per node after a ${warmupS} s warm-up.`,
    '',
    `Load: ${t.sent} messages sent, ${t.accepted} answered 250 (${(t.sent / measured).toFixed(1)} msg/s), ${t.temp} 4xx, ${t.perm} 5xx, ${t.resets} resets, ${t.refused} refused connections; ${t.delivered} delivered or quarantined, ${t.lost} lost, ${t.duplicates} duplicates downstream.`,
    '',
    '| node | RSS first quarter (MiB) | RSS last quarter | growth | slope (MiB/min) | RSS range | fds first quarter | fds last quarter | growth | slope (fds/min) | fds range | verdict |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    `Bounds: RSS growth (mean of the last quarter of the samples minus the mean of the first) at most the larger of ${rssBoundMib} MiB and ${rssBoundPct} % of the first quarter; open file descriptors at most +${fdBound}. Every message that got a 250 must reach the downstream or the quarantine.`,
    '',
    failures.length === 0 ? '**Soak: passed.**' : `**Soak: FAILED**\n\n${failures.slice(0, 30).map((f) => `- ${f}`).join('\n')}`,
    '',
  ].join('\n');
  writeFileSync(RESULTS, report);
  process.stdout.write(`${report}\n(written to ${RESULTS})\n`);
  if (failures.length > 0) exitCode = 1;
} catch (err) {
  log(`soak failed: ${(err as Error).stack ?? String(err)}`);
  exitCode = 1;
} finally {
  await load.stop();
  await cluster.close();
  cluster.cleanup();
}
process.exit(exitCode);

function signed(n: number, digits: number): string {
  return `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
}
