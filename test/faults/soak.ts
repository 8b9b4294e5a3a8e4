import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { procStatusKb } from '../helpers/proc-memory.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';
import { audit } from './audit.ts';
import { startCluster, VIP } from './cluster.ts';
import { growthOf, type Growth, type Sample } from './growth.ts';
import { heapAfterGc, heapSnapshot, inspectorUrl } from './heap-probe.ts';
import { messageIdOf, startLoad } from './load.ts';
import { masterFacts, scannerOutbox } from './master-facts.ts';

/**
 * `pnpm test:soak [--minutes N]`: the fault run's cluster (master, three scanners sharing the
 * virtual address, a downstream) under the same steady load for N minutes, no faults. Every
 * few seconds it samples each node's resident memory (VmRSS) and open file descriptors
 * (/proc/PID/fd), and every minute the V8 heap that survives a forced full collection (through
 * each node's inspector: RSS alone cannot tell a leak from a heap still settling); after a
 * warm-up, it compares the first and last quarter of the samples and fits a slope, over the
 * whole run and over its second half. Exit 1 if a node grew past the bounds or a message was lost.
 */
const USAGE = `usage: pnpm test:soak [--minutes 5] [--interval 5] [--gc-interval 60] [--warmup 30] [--rss-bound-mib 16] [--rss-bound-pct 10] [--heap-bound-mib 8] [--fd-bound 8] [--snapshots DIR]
  --minutes        length of the measured run (after the warm-up)
  --interval       seconds between two samples of RSS and descriptors
  --gc-interval    seconds between two samples of the heap after a forced full collection
  --warmup         seconds of load before sampling starts (JIT, caches, SQLite page cache)
  --rss-bound-mib, --rss-bound-pct   a node fails if its RSS grew (last quarter - first quarter)
                   by more than the larger of these
  --heap-bound-mib a node fails if its heap after a full collection grew by more than the larger
                   of this and --rss-bound-pct % of its first quarter
  --fd-bound       a node fails if its open descriptors grew by more than this (quarter means)
  --snapshots DIR  write each node's V8 heap snapshot there after the warm-up and at the end`;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    interval: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '30' },
    'rss-bound-mib': { type: 'string', default: '16' },
    'rss-bound-pct': { type: 'string', default: '10' },
    'heap-bound-mib': { type: 'string', default: '8' },
    'gc-interval': { type: 'string', default: '60' },
    snapshots: { type: 'string' },
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
const heapBoundMib = num('heap-bound-mib');
const gcIntervalS = num('gc-interval');
if (gcIntervalS <= 0 || (minutes * 60) / gcIntervalS < 3) {
  process.stderr.write(`--gc-interval ${gcIntervalS}: at least 3 heap samples in --minutes ${minutes} needed (plus one at the end)\n${USAGE}\n`);
  process.exit(2);
}
const snapshotDir = args.snapshots === undefined ? undefined : resolve(args.snapshots);
if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
// Every node (a child process) opens its inspector on a free loopback port and prints the
// address on stderr, where the probe finds it. Nothing connects to it between probes.
process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, '--inspect=127.0.0.1:0'].filter(Boolean).join(' ');
const RESULTS = fileURLToPath(new URL('../bench/results/soak.md', import.meta.url));
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

const cluster = await startCluster();
const load = startLoad({ host: VIP, port: cluster.vipPort, localAddress: '127.0.0.5', concurrency: 4, pauseMs: 25, quarantineEvery: 10 });
const samples = new Map<string, { rss: Sample[]; fds: Sample[]; heap: Sample[] }>();
const pids = cluster.pids();
const inspectors = new Map<string, string>();
for (const { name, proc } of cluster.history) {
  const url = inspectorUrl(proc.stderr());
  if (url) inspectors.set(name, url);
}
const load1: number[] = [];
const sampleHeaps = async (t: number) => {
  load1.push(loadavg()[0]!);
  for (const [name, url] of inspectors) samples.get(name)!.heap.push({ t, value: (await heapAfterGc(url)).liveMib });
  log(`${Math.round(t)} s: ${load.attempts.length} messages sent, load ${loadavg()[0]!.toFixed(1)}; MiB RSS/heap after GC ${[...samples].map(([k, v]) => `${k} ${v.rss.at(-1)!.value.toFixed(0)}/${v.heap.at(-1)!.value.toFixed(1)}`).join(', ')}`);
};
const snapshots = async (label: string) => {
  if (!snapshotDir) return;
  for (const [name, url] of inspectors) await heapSnapshot(url, join(snapshotDir, `${name}-${label}.heapsnapshot`));
  log(`heap snapshots (${label}) written to ${snapshotDir}`);
};
let exitCode = 0;
try {
  log(`cluster up (${[...pids].map(([n, p]) => `${n}=${p}`).join(' ')}); warm-up ${warmupS} s, then ${minutes} min of samples every ${intervalS} s`);
  if (inspectors.size !== pids.size) throw new Error(`no inspector address for ${[...pids.keys()].filter((n) => !inspectors.has(n)).join(', ')}`);
  await sleep(warmupS * 1000);
  await snapshots('start');
  const started = Date.now();
  const end = started + minutes * 60_000;
  let nextGc = started;
  while (Date.now() < end) {
    const t = (Date.now() - started) / 1000;
    for (const [name, pid] of pids) {
      const s = samples.get(name) ?? { rss: [], fds: [], heap: [] };
      samples.set(name, s);
      s.rss.push({ t, value: procStatusKb(pid, 'VmRSS') / 1024 });
      s.fds.push({ t, value: readdirSync(`/proc/${pid}/fd`).length });
    }
    if (Date.now() >= nextGc) {
      nextGc += gcIntervalS * 1000;
      await sampleHeaps(t);
    }
    await sleep(intervalS * 1000);
  }
  await sampleHeaps((Date.now() - started) / 1000);
  await snapshots('end');
  await load.stop();
  const accepted = load.attempts.filter((a) => a.outcome === 'accepted' && !a.quarantine).map((a) => a.messageId);
  await waitUntil(() => { const got = new Set(cluster.downstream.received.map((m) => messageIdOf(m.raw))); return accepted.every((id) => got.has(id)); }, 'every accepted message downstream', 120_000, 500);
  await waitUntil(() => cluster.scanners.every((s) => scannerOutbox(s.dataDir).pending === 0), 'every outbox empty', 60_000, 500);
  await cluster.close();
  const measured = minutes * 60 + warmupS;
  const result = audit([{ label: 'baseline', fault: 'soak', seconds: measured }], load.attempts, cluster.downstream.received.map((m) => messageIdOf(m.raw)), masterFacts(cluster.masterDb, cluster.scanners));

  const failures: string[] = [...result.problems];
  const tables: Record<'rss' | 'heap' | 'fds', string[]> = { rss: [], heap: [], fds: [] };
  const row = (name: string, g: Growth, digits: number, bound: number, ok: boolean) =>
    `| ${name} | ${g.quarterMedians.map((m) => m.toFixed(digits)).join(' | ')} | ${signed(g.growth, 1)} (bound ${bound.toFixed(1)}) | ${signed(g.slopePerMinute, 2)} | ${signed(g.secondHalfSlopePerMinute, 2)} | ${g.min.toFixed(digits)}–${g.max.toFixed(digits)} | ${ok ? 'ok' : '**FAIL**'} |`;
  for (const [name, s] of samples) {
    const rss = growthOf(s.rss);
    const heap = growthOf(s.heap);
    const fds = growthOf(s.fds);
    const rssBound = Math.max(rssBoundMib, (rss.firstQuarter * rssBoundPct) / 100);
    const heapBound = Math.max(heapBoundMib, (heap.firstQuarter * rssBoundPct) / 100);
    if (rss.growth > rssBound) failures.push(`${name}: RSS grew ${rss.growth.toFixed(1)} MiB (bound ${rssBound.toFixed(1)} MiB)`);
    if (heap.growth > heapBound) failures.push(`${name}: heap after a full collection grew ${heap.growth.toFixed(1)} MiB (bound ${heapBound.toFixed(1)} MiB)`);
    if (fds.growth > fdBound) failures.push(`${name}: open descriptors grew ${fds.growth.toFixed(1)} (bound ${fdBound})`);
    tables.rss.push(row(name, rss, 1, rssBound, rss.growth <= rssBound));
    tables.heap.push(row(name, heap, 1, heapBound, heap.growth <= heapBound));
    tables.fds.push(row(name, fds, 1, fdBound, fds.growth <= fdBound));
  }
  const header = (what: string) => [
    `| node | ${what} Q1 median | Q2 | Q3 | Q4 | growth (mean Q4 − mean Q1) | slope per min | slope per min, 2nd half | range | verdict |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const meanLoad = load1.reduce((a, b) => a + b, 0) / Math.max(1, load1.length);
  const t = result.total;
  const report = [
    '# Soak run (`pnpm test:soak`)',
    '',
    `${new Date().toISOString()}, ${availableParallelism()} cores, Node ${process.version}. \`pnpm test:soak --minutes ${minutes} --interval ${intervalS} --gc-interval ${gcIntervalS} --warmup ${warmupS}\`: master and three scanners (embedded balancers, one holds the virtual address) as child processes, one client with 4 sessions (one message per connection, 25 ms pause, every 10th quarantined) through the virtual address. After a ${warmupS} s warm-up, ${samples.get('master')!.rss.length} samples per node of RSS and descriptors, and ${samples.get('master')!.heap.length} of the heap after a forced full collection. Machine load (1-min load average at the heap samples): mean ${meanLoad.toFixed(1)}, ${Math.min(...load1).toFixed(1)}–${Math.max(...load1).toFixed(1)}.`,
    '',
    `Load: ${t.sent} messages sent, ${t.accepted} answered 250 (${(t.sent / measured).toFixed(1)} msg/s), ${t.temp} 4xx, ${t.perm} 5xx, ${t.resets} resets, ${t.refused} refused connections; ${t.delivered} delivered or quarantined, ${t.lost} lost, ${t.duplicates} duplicates downstream.`,
    '',
    '**Heap after a forced full collection** (MiB, `heapUsed + arrayBuffers` read through the inspector right after `HeapProfiler.collectGarbage`): what the process really keeps. A leak shows here as a steady climb in every quarter and a second-half slope that is not ~0.',
    '',
    ...header('heap'),
    ...tables.heap,
    '',
    '**Resident memory** (MiB, VmRSS): includes the heap V8 has reserved but not yet collected, so it moves with garbage-collection timing and settles later than the live heap.',
    '',
    ...header('RSS'),
    ...tables.rss,
    '',
    '**Open file descriptors**',
    '',
    ...header('fds'),
    ...tables.fds,
    '',
    `Bounds: growth = mean of the last quarter of the samples minus the mean of the first. RSS at most the larger of ${rssBoundMib} MiB and ${rssBoundPct} % of the first quarter; heap after a full collection at most the larger of ${heapBoundMib} MiB and ${rssBoundPct} %; open file descriptors at most +${fdBound}. Every message that got a 250 must reach the downstream or the quarantine.`,
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
