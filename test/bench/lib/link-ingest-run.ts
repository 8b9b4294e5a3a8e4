/**
 * (a) of the master link benchmark: event ingest over the link. `nodes` simulated scanners,
 * spread round-robin over the masters, send their batches (built and encoded before the clock
 * starts), each node one batch in flight, the next after its events.ack; then the exactly-once
 * check of what the database holds. Also the CPU every party spent over the timed run: the
 * masters' processes, the database server's (PostgreSQL), the simulated scanners'.
 */
import { cpus } from 'node:os';
import { percentile } from './stats.ts';
import type { BenchMaster } from './link-masters.ts';
import type { LinkEngine } from './link-engines.ts';
import { byOwner, linkNodes, unlinkNodes, type SimFleet } from './link-sims.ts';
import { waitNodesOffline } from './link-node-list.ts';

export interface LinkIngestSpec {
  readonly nodes: number;
  readonly batch: number;
  readonly batches: number;
  readonly warmupBatches: number;
}

export interface LinkIngestResult {
  readonly events: number;
  readonly ms: number;
  readonly batchP50: number;
  readonly batchP99: number;
  readonly masterCpuMs: number;
  readonly serverCpuMs: { primary: number; others: number };
  readonly simCpuMs: number;
  /** CPU time every core of the machine was busy over the run, whoever used it (other work on a shared machine included). */
  readonly machineBusyMs: number;
  readonly frameBytes: number;
  /** Event records of the timed run in the database. */
  readonly stored: number;
  readonly verified: string;
}

interface Verify {
  messages: number;
  distinctMessages: number;
  events: number;
  rejected: number;
  nodes: { name: string; lastAckedSeq: number; events: number; messages: number }[];
}

const pad2 = (i: number): string => String(i).padStart(2, '0');

/** CPU time (ms) the machine's cores have been busy so far, all processes (os.cpus(): user + nice + sys + irq). */
const machineBusyMs = (): number => cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);

export async function ingestOverLink(masters: readonly BenchMaster[], fleet: SimFleet, engine: LinkEngine, spec: LinkIngestSpec, log: (m: string) => void): Promise<LinkIngestResult> {
  const names = Array.from({ length: spec.nodes }, (_, i) => `ingest-${pad2(i)}`);
  log(`link: ${names.length} simulated scanners join ${masters.length === 1 ? 'the master' : `${masters.length} masters`}`);
  const tokens = await masters[0]!.joinTokens(names);
  for (const [i, m] of masters.entries()) await linkNodes(fleet, names.filter((_, n) => n % masters.length === i), m.wsUrl, tokens);
  const groups = byOwner(fleet, names);
  const nodesOf = (list: string[]) => list.map((name) => ({ name, index: names.indexOf(name) }));
  if (spec.warmupBatches > 0) {
    // The first node warms up alone, then the others: concurrent first batches on a fresh
    // PostgreSQL database race to create the log's day partitions, and all but one fail (the
    // benchmark's notes, README.md). Once one batch has committed, the days exist.
    const [firstProc, firstList] = groups[0]!;
    await firstProc.call('prepare', { key: 'warm-first', nodes: nodesOf([firstList[0]!]), fromSeq: 1, batches: spec.warmupBatches, batch: spec.batch }, 120_000);
    await firstProc.call('run', { key: 'warm-first', ackTimeoutMs: 60_000 }, 120_000);
    const rest = groups.map(([p, list]) => [p, list.filter((n) => n !== firstList[0])] as const).filter(([, list]) => list.length > 0);
    await Promise.all(rest.map(([p, list]) => p.call('prepare', { key: 'warm', nodes: nodesOf(list), fromSeq: 1, batches: spec.warmupBatches, batch: spec.batch }, 120_000)));
    await Promise.all(rest.map(([p]) => p.call('run', { key: 'warm', ackTimeoutMs: 60_000 }, 120_000 + spec.nodes * spec.warmupBatches * spec.batch * 2)));
  }
  const prepared = await Promise.all(groups.map(([p, list]) =>
    p.call<{ events: number; bytes: number }>('prepare', { key: 'timed', nodes: nodesOf(list), fromSeq: 1 + spec.warmupBatches * spec.batch, batches: spec.batches, batch: spec.batch }, 120_000)));
  const frameBytes = prepared.reduce((s, x) => s + x.bytes, 0);
  log(`link: ${prepared.reduce((s, x) => s + x.events, 0).toLocaleString('en-US')} events (${(frameBytes / 2 ** 20).toFixed(1)} MiB of frames) over the link`);
  const cpu0 = await Promise.all(masters.map((m) => m.cpuMs()));
  const server0 = engine.serverCpuMs();
  const machine0 = machineBusyMs();
  const runs = await Promise.all(groups.map(([p]) =>
    p.call<{ t0: number; t1: number; acked: number; rtts: number[]; cpuMs: number }>('run', { key: 'timed', ackTimeoutMs: 60_000 }, 120_000 + spec.nodes * spec.batches * spec.batch * 2)));
  const machine1 = machineBusyMs();
  const server1 = engine.serverCpuMs();
  const cpu1 = await Promise.all(masters.map((m) => m.cpuMs()));
  const t0 = Math.min(...runs.map((r) => r.t0));
  const t1 = Math.max(...runs.map((r) => r.t1));
  const acked = runs.reduce((s, r) => s + r.acked, 0);
  log(`  ${Math.round((acked * 1000) / (t1 - t0)).toLocaleString('en-US')} events/s`);

  // Exactly once: what the database holds, against what was sent (warm-up + timed).
  const v = await masters[0]!.rpc.call<Verify>('verify', {}, 120_000);
  const perNode = (spec.warmupBatches + spec.batches) * spec.batch;
  const sent = perNode * names.length;
  const problems: string[] = [];
  if (v.messages !== sent || v.distinctMessages !== sent) problems.push(`messages stored ${v.messages} (${v.distinctMessages} distinct), sent ${sent}`);
  if (v.events !== sent) problems.push(`event records ${v.events}, sent ${sent}`);
  if (v.rejected !== 0) problems.push(`${v.rejected} events rejected`);
  for (const name of names) {
    const n = v.nodes.find((x) => x.name === name);
    if (!n || n.events !== perNode || n.messages !== perNode || n.lastAckedSeq !== perNode) problems.push(`${name}: ${JSON.stringify(n)} (expected ${perNode} events, last acked seq ${perNode})`);
  }
  if (problems.length > 0) throw new Error(`${engine.label}: exactly-once check failed: ${problems.slice(0, 5).join('; ')}`);
  await unlinkNodes(fleet, names);
  await waitNodesOffline(masters[0]!.api, names, 15_000);

  const rtts = runs.flatMap((r) => r.rtts).sort((a, b) => a - b);
  return {
    events: acked,
    ms: t1 - t0,
    batchP50: percentile(rtts, 50),
    batchP99: percentile(rtts, 99),
    masterCpuMs: cpu1.reduce((s, c, i) => s + c - cpu0[i]!, 0),
    serverCpuMs: { primary: server1.primary - server0.primary, others: server1.others - server0.others },
    simCpuMs: runs.reduce((s, r) => s + r.cpuMs, 0),
    machineBusyMs: machine1 - machine0,
    frameBytes,
    stored: v.events - names.length * spec.warmupBatches * spec.batch,
    verified: `${v.messages.toLocaleString('en-US')} messages and ${v.events.toLocaleString('en-US')} event records stored for ${sent.toLocaleString('en-US')} sent (warm-up included), none rejected, every node's last acked seq = its last seq`,
  };
}
