/**
 * Master link benchmark: `node test/bench/master-link-bench.ts [--nodes 50 --reps 30 ...]`.
 * A real master in its own process; simulated scanners (lib/sim-scanner.ts, other processes,
 * speaking the real cluster protocol over ws://127.0.0.1) measure
 *   (a) the event ingest rate over the link, against the same events through the master's
 *       ingestBatch in-process (lib/link-ingest-baseline.ts), with an exactly-once check;
 *   (b) the time from a rules change (PUT /api/v1/rules) to every node's acknowledgement with
 *       --nodes connected, against one connected node and against a heartbeat round trip of
 *       the same nodes.
 * Prints a markdown table and writes it to test/bench/results/master-link.md. See README.md.
 */
import { cpus, release, totalmem, tmpdir } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADMIN_PASSWORD, apiClient, type ApiClient } from '../helpers/cluster-harness.ts';
import { cleanupNow } from './lib/cleanup.ts';
import { makeTempDir, sleep } from './lib/proc.ts';
import { spawnRpcChild, type RpcChild } from './lib/ipc-rpc.ts';
import { epochMs } from './lib/sim-events.ts';
import { percentile } from './lib/stats.ts';
import type { BaselineResult, BaselineSpec } from './lib/link-ingest-baseline.ts';
import { renderLinkReport, type IngestSide, type LinkReport, type RulesPhase } from './lib/link-report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const started = Date.now();

const args = (() => {
  try {
    return parseArgs({
      options: {
        nodes: { type: 'string', default: '50' },
        reps: { type: 'string', default: '100' },
        'rule-warmup': { type: 'string', default: '3' },
        'ingest-nodes': { type: 'string', default: '10' },
        batch: { type: 'string', default: '500' },
        batches: { type: 'string', default: '20' },
        'warmup-batches': { type: 'string', default: '2' },
        'sim-procs': { type: 'string', default: '2' },
        heartbeat: { type: 'string', default: '1' },
        'poll-ms': { type: 'string', default: '10' },
        parts: { type: 'string', default: 'ingest,rules' },
        dir: { type: 'string', default: tmpdir() },
        out: { type: 'string', default: join(here, 'results', 'master-link.md') },
        timeout: { type: 'string', default: '600' },
        'no-write': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`master-link-bench: ${(err as Error).message}\n(--help lists the options)\n`);
    process.exit(2);
  }
})();

if (args.help) {
  process.stdout.write(`Usage: node test/bench/master-link-bench.ts [options]
  --nodes N           simulated scanners connected for the rules-change figure (default 50)
  --reps N            timed rules changes (and heartbeat probes) per phase (default 100)
  --rule-warmup N     untimed rules changes before them (default 3)
  --ingest-nodes N    simulated scanners sending events in parallel (default 10)
  --batch N           events per events.batch frame (default 500; the protocol allows 1000)
  --batches N         timed batches per ingest node (default 20: 10 × 20 × 500 = 100,000 events)
  --warmup-batches N  untimed batches per node before them (default 2)
  --sim-procs N       processes the simulated scanners are spread over (default 2)
  --heartbeat S       the master's heartbeat interval in seconds (default 1)
  --poll-ms N         GET /api/v1/nodes poll interval while waiting for the acks (default 10)
  --parts LIST        ingest,rules (default both)
  --dir DIR           where the temp folder goes (default: the OS temp folder)
  --out FILE          report file (default test/bench/results/master-link.md)
  --timeout S         give up after S seconds (default 600)
  --no-write          print only
  --keep              keep the temp folder (master database and logs; path printed)
`);
  process.exit(0);
}

const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`master-link-bench: --${name} must be an integer >= ${min}, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const opts = {
  nodes: int('nodes', args.nodes, 1),
  reps: int('reps', args.reps, 1),
  ruleWarmup: int('rule-warmup', args['rule-warmup'], 0),
  ingestNodes: int('ingest-nodes', args['ingest-nodes'], 1),
  batch: int('batch', args.batch, 1),
  batches: int('batches', args.batches, 1),
  warmupBatches: int('warmup-batches', args['warmup-batches'], 0),
  simProcs: int('sim-procs', args['sim-procs'], 1),
  heartbeat: Number(args.heartbeat),
  pollMs: int('poll-ms', args['poll-ms'], 1),
  timeoutS: int('timeout', args.timeout, 10),
  parts: new Set(args.parts!.split(',').map((p) => p.trim())),
};
if (opts.batch > 1000) {
  process.stderr.write('master-link-bench: --batch above 1000 is refused by the protocol (EventsBatchFrame maxItems)\n');
  process.exit(2);
}
if (!(opts.heartbeat >= 0.1)) {
  process.stderr.write('master-link-bench: --heartbeat must be >= 0.1 seconds\n');
  process.exit(2);
}
for (const p of opts.parts) {
  if (p !== 'ingest' && p !== 'rules') {
    process.stderr.write(`master-link-bench: unknown part ${p} (ingest, rules)\n`);
    process.exit(2);
  }
}

const log = (msg: string): void => void process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
const pad2 = (i: number): string => String(i).padStart(2, '0');

/** The rules document of the i-th change: the bench master's seed with another senderBlock entry. */
const rulesDoc = (i: number) => ({
  version: 1,
  acceptedDomains: ['example.test'],
  lists: { senderBlock: ['*@blocked.example', `*@x${i}.example`], ipBlock: [] as string[] },
  limits: { maxMessageBytes: 1024 * 1024, maxRecipients: 50 },
  content: [
    { id: 'quarantine-me', target: 'subject', contains: 'QUARANTINE-ME', action: 'quarantine' },
    { id: 'tag-me', target: 'subject', contains: 'TAG-ME', action: 'tag' },
  ],
});
const SEED_RULES = { ...rulesDoc(0), lists: { senderBlock: ['*@blocked.example'], ipBlock: [] } };

const tmp = makeTempDir('master-link', args.keep);
const logDir = join(tmp.path, 'logs');
mkdirSync(logDir);

// ── (a) baseline: the same events through ingestBatch in-process ─────────────────────────
async function baselineRun(mode: BaselineSpec['mode'], tag: string): Promise<BaselineResult> {
  const dir = join(tmp.path, `baseline-${mode}-${tag}`);
  mkdirSync(dir);
  const child = spawnRpcChild(`baseline-${mode}-${tag}`, join(here, 'lib', 'link-ingest-baseline.ts'), [], logDir);
  try {
    const spec: BaselineSpec = { dir, mode, nodes: opts.ingestNodes, batch: opts.batch, warmupBatches: opts.warmupBatches, batches: opts.batches };
    const events = opts.ingestNodes * opts.batches * opts.batch;
    return await child.call<BaselineResult>('run', spec, 60_000 + events * 2);
  } finally {
    await child.stop();
  }
}

// ── simulated scanners ───────────────────────────────────────────────────────────────────
interface Sims {
  procs: RpcChild[];
  /** Which process holds each node. */
  owner: Map<string, RpcChild>;
}

function spread(names: string[], sims: Sims): Map<RpcChild, string[]> {
  const by = new Map<RpcChild, string[]>(sims.procs.map((p) => [p, []]));
  names.forEach((n, i) => {
    const p = sims.procs[i % sims.procs.length]!;
    by.get(p)!.push(n);
    sims.owner.set(n, p);
  });
  for (const [p, list] of by) if (list.length === 0) by.delete(p);
  return by;
}

const byOwner = (names: string[], sims: Sims): Map<RpcChild, string[]> => {
  const by = new Map<RpcChild, string[]>();
  for (const n of names) {
    const p = sims.owner.get(n)!;
    by.set(p, [...(by.get(p) ?? []), n]);
  }
  return by;
};

async function connectNodes(names: string[], sims: Sims, wsUrl: string, master: RpcChild): Promise<void> {
  // Each simulated node joins with a one-time token the master makes for its name.
  const tokens = await master.call<Record<string, string>>('joinTokens', { names }, 30_000);
  await Promise.all([...spread(names, sims)].map(([p, list]) => p.call('connect', { url: wsUrl, names: list, tokens, timeoutMs: 20_000 }, 30_000)));
}

async function disconnectNodes(names: string[], sims: Sims): Promise<void> {
  await Promise.all([...byOwner(names, sims)].map(([p, list]) => p.call('disconnect', { names: list }, 15_000)));
  for (const n of names) sims.owner.delete(n);
}

/** Polls GET /api/v1/nodes until every named node is online at `version` (or later). */
async function waitNodesAt(api: ApiClient, names: string[], version: number, pollMs: number, timeoutMs: number): Promise<number> {
  const want = new Set(names);
  const deadline = epochMs() + timeoutMs;
  for (;;) {
    const res = await api.get('/api/v1/nodes');
    const at = epochMs();
    if (res.status !== 200) throw new Error(`GET /api/v1/nodes: ${res.status} ${res.text.slice(0, 300)}`);
    const items = (res.json.items as { name: string; online: boolean; rulesVersion: number }[]).filter((n) => want.has(n.name));
    if (items.length === want.size && items.every((n) => n.online && n.rulesVersion >= version)) return at;
    if (at > deadline) {
      const behind = items.filter((n) => !(n.online && n.rulesVersion >= version)).map((n) => `${n.name}@${n.rulesVersion}${n.online ? '' : ' offline'}`);
      throw new Error(`time-out after ${timeoutMs} ms: nodes not at rules version ${version}: ${behind.slice(0, 10).join(', ')} (${items.length}/${want.size} listed)`);
    }
    await sleep(pollMs);
  }
}

interface RepRaw {
  version: number;
  t0: number;
  t0Wall: number;
  putMs: number;
  apiAllMs: number;
  firstPushMs: number;
  lastPushMs: number;
}

/** One rules phase: `names` connected (and nothing else), warm-up + reps of (heartbeat probe, rules change). */
async function rulesPhase(label: string, names: string[], sims: Sims, api: ApiClient, counter: { i: number }): Promise<{ reps: RepRaw[]; probes: number[] }> {
  const owners = [...byOwner(names, sims)];
  const reps: RepRaw[] = [];
  const probes: number[] = [];
  for (let r = 0; r < opts.ruleWarmup + opts.reps; r++) {
    const timed = r >= opts.ruleWarmup;
    // Baseline: one heartbeat from every node at once, until the last answer.
    const pr = await Promise.all(owners.map(([p, list]) => p.call<{ t0: number; answered: number[] }>('probe', { names: list, timeoutMs: 10_000 }, 15_000)));
    const probeMs = Math.max(...pr.flatMap((x) => x.answered)) - Math.min(...pr.map((x) => x.t0));
    if (timed) probes.push(probeMs);
    await sleep(10 + Math.random() * 20);

    const i = ++counter.i;
    const t0Wall = Date.now();
    const t0 = epochMs();
    const res = await api.put('/api/v1/rules', rulesDoc(i));
    const tPut = epochMs();
    if (res.status !== 200) throw new Error(`PUT /api/v1/rules: ${res.status} ${res.text.slice(0, 300)}`);
    const version = res.json.version as number;
    const tApi = await waitNodesAt(api, names, version, opts.pollMs, 15_000);
    await Promise.all(owners.map(([p, list]) => p.call('waitPushes', { names: list, version, timeoutMs: 10_000 }, 15_000)));
    const seen = (await Promise.all(owners.map(([p, list]) => p.call<{ name: string; at: number | null }[]>('pushTimes', { names: list, version }, 10_000)))).flat();
    const at = seen.map((s) => s.at);
    if (at.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new Error(`rules version ${version}: some nodes have no push time`);
    if (timed) {
      reps.push({ version, t0, t0Wall, putMs: tPut - t0, apiAllMs: tApi - t0, firstPushMs: Math.min(...(at as number[])) - t0, lastPushMs: Math.max(...(at as number[])) - t0 });
    }
    if (r === opts.ruleWarmup - 1 || (timed && (r - opts.ruleWarmup + 1) % 10 === 0)) log(`${label}: ${timed ? r - opts.ruleWarmup + 1 : 'warm-up'}${timed ? `/${opts.reps}` : ''} rules changes done`);
    await sleep(20 + Math.random() * 30);
  }
  return { reps, probes };
}

/** RULES_ACKED lines of the master's log: version → node → time (epoch ms, from its ISO timestamp). */
function ackedFromLog(file: string): { acked: Map<number, Map<string, number>>; warnings: Map<string, number> } {
  const acked = new Map<number, Map<string, number>>();
  const warnings = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: { level?: number; time?: string | number; event?: string; node?: string; version?: number };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if ((rec.level ?? 0) >= 40) warnings.set(rec.event ?? '(no event)', (warnings.get(rec.event ?? '(no event)') ?? 0) + 1);
    if (rec.event !== 'RULES_ACKED' || typeof rec.version !== 'number' || !rec.node) continue;
    const t = typeof rec.time === 'number' ? rec.time : Date.parse(String(rec.time));
    if (!acked.has(rec.version)) acked.set(rec.version, new Map());
    acked.get(rec.version)!.set(rec.node, t);
  }
  return { acked, warnings };
}

const rateOf = (r: BaselineResult): number => (r.events * 1000) / r.ms;

/** A baseline's figures, after checking it stored exactly what it was given (`runs` runs of warm-up + timed). */
function sideOf(r: BaselineResult, runs: number): IngestSide {
  const warm = runs * opts.ingestNodes * opts.warmupBatches * opts.batch;
  if (r.messages !== r.events + warm || r.storedEvents !== r.events + warm || r.rejected !== 0) {
    throw new Error(`in-process baseline stored ${r.messages} messages / ${r.storedEvents} events (${r.rejected} rejected), expected ${r.events + warm}`);
  }
  const s = [...r.batchMs].sort((a, b) => a - b);
  return { events: r.events, ms: r.ms, batchP50: percentile(s, 50), batchP99: percentile(s, 99), cpuMs: r.cpuMs, stored: r.storedEvents - warm };
}

function summarize(label: string, nodes: number, raw: { reps: RepRaw[]; probes: number[] }, acked: Map<number, Map<string, number>>, names: string[]): RulesPhase {
  const masterAllMs = raw.reps.map((r) => {
    const per = acked.get(r.version);
    const missing = names.filter((n) => !per?.has(n));
    if (missing.length > 0) throw new Error(`${label}: the master logged no RULES_ACKED of version ${r.version} for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    return Math.max(...names.map((n) => per!.get(n)!)) - r.t0Wall;
  });
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1]!, n: s.length };
  };
  return {
    label,
    nodes,
    reps: raw.reps.length,
    masterAllAcked: stat(masterAllMs),
    allPushReceived: stat(raw.reps.map((r) => r.lastPushMs)),
    firstPushReceived: stat(raw.reps.map((r) => r.firstPushMs)),
    apiAllCurrent: stat(raw.reps.map((r) => r.apiAllMs)),
    putAnswered: stat(raw.reps.map((r) => r.putMs)),
    heartbeatAll: stat(raw.probes),
  };
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`master-link-bench: gave up after ${opts.timeoutS} s (--timeout)\n`);
    cleanupNow();
    process.exit(1);
  }, opts.timeoutS * 1000);

  const report: LinkReport = {
    info: {
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      memGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      command: `node ${relative(root, fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim(),
      durationS: 0,
      heartbeatS: opts.heartbeat,
      simProcs: opts.simProcs,
      pollMs: opts.pollMs,
    },
    ingest: undefined,
    rules: [],
    notes: [],
  };

  // (a) baselines first, while nothing else runs.
  let direct: BaselineResult | undefined;
  let decoded: BaselineResult | undefined;
  if (opts.parts.has('ingest')) {
    log(`in-process baseline: ingestBatch of ${opts.ingestNodes} × ${opts.batches} × ${opts.batch} events`);
    direct = await baselineRun('direct', 'before');
    log(`  ${Math.round((direct.events * 1000) / direct.ms).toLocaleString('en-US')} events/s`);
    log('in-process baseline: decodeToMaster + ingestBatch + encodeFrame');
    decoded = await baselineRun('decoded', 'before');
    log(`  ${Math.round((decoded.events * 1000) / decoded.ms).toLocaleString('en-US')} events/s`);
  }

  log('starting the master');
  const master = spawnRpcChild('master', join(here, 'lib', 'link-master.ts'), [], logDir);
  const masterData = join(tmp.path, 'master');
  const { port, url } = await master.call<{ port: number; url: string }>(
    'start',
    { dataDir: masterData, heartbeatSeconds: opts.heartbeat, adminPassword: ADMIN_PASSWORD, seedRules: SEED_RULES },
    60_000,
  );
  const wsUrl = `ws://127.0.0.1:${port}/cluster`;
  const api = await apiClient(url);
  const sims: Sims = {
    procs: Array.from({ length: opts.simProcs }, (_, i) => spawnRpcChild(`sim-${i}`, join(here, 'lib', 'sim-scanner.ts'), [], logDir)),
    owner: new Map(),
  };
  await Promise.all(sims.procs.map((p) => p.call('errors', {}, 30_000))); // started and serving
  const expectedOffline = { n: 0 };

  if (direct && decoded) {
    const names = Array.from({ length: opts.ingestNodes }, (_, i) => `ingest-${pad2(i)}`);
    log(`link: ${names.length} simulated scanners join`);
    await connectNodes(names, sims, wsUrl, master);
    const groups = [...byOwner(names, sims)];
    const nodesOf = (list: string[]) => list.map((name) => ({ name, index: names.indexOf(name) }));
    const prep = async (key: string, fromSeq: number, batches: number) =>
      Promise.all(groups.map(([p, list]) => p.call<{ events: number; bytes: number }>('prepare', { key, nodes: nodesOf(list), fromSeq, batches, batch: opts.batch }, 120_000)));
    const runAll = (key: string) =>
      Promise.all(groups.map(([p]) => p.call<{ t0: number; t1: number; acked: number; rtts: number[]; cpuMs: number }>('run', { key, ackTimeoutMs: 30_000 }, 60_000 + opts.ingestNodes * opts.batches * opts.batch * 2)));
    if (opts.warmupBatches > 0) {
      await prep('warm', 1, opts.warmupBatches);
      await runAll('warm');
    }
    const prepared = await prep('timed', 1 + opts.warmupBatches * opts.batch, opts.batches);
    const bytes = prepared.reduce((s, x) => s + x.bytes, 0);
    log(`link: ${prepared.reduce((s, x) => s + x.events, 0).toLocaleString('en-US')} events (${(bytes / 2 ** 20).toFixed(1)} MiB of frames) over the link`);
    const cpu0 = await master.call<number>('cpu', {}, 10_000);
    const runs = await runAll('timed');
    const cpu1 = await master.call<number>('cpu', {}, 10_000);
    const t0 = Math.min(...runs.map((r) => r.t0));
    const t1 = Math.max(...runs.map((r) => r.t1));
    const acked = runs.reduce((s, r) => s + r.acked, 0);
    log(`  ${Math.round((acked * 1000) / (t1 - t0)).toLocaleString('en-US')} events/s`);

    // Exactly once: what the master stored, against what was sent (warm-up + timed).
    const v = await master.call<{ messages: number; distinctMessages: number; events: number; rejected: number; nodes: { name: string; lastAckedSeq: number; events: number; messages: number }[] }>('verify', {}, 60_000);
    const perNode = (opts.warmupBatches + opts.batches) * opts.batch;
    const sent = perNode * names.length;
    const problems: string[] = [];
    if (v.messages !== sent || v.distinctMessages !== sent) problems.push(`messages stored ${v.messages} (${v.distinctMessages} distinct), sent ${sent}`);
    if (v.events !== sent) problems.push(`event records ${v.events}, sent ${sent}`);
    if (v.rejected !== 0) problems.push(`${v.rejected} events rejected`);
    for (const name of names) {
      const n = v.nodes.find((x) => x.name === name);
      if (!n || n.events !== perNode || n.messages !== perNode || n.lastAckedSeq !== perNode) problems.push(`${name}: ${JSON.stringify(n)} (expected ${perNode} events, last acked seq ${perNode})`);
    }
    if (problems.length > 0) throw new Error(`exactly-once check failed: ${problems.slice(0, 5).join('; ')}`);
    const rtts = runs.flatMap((r) => r.rtts).sort((a, b) => a - b);
    const side = (r: BaselineResult): IngestSide => sideOf(r, 1);
    report.ingest = {
      nodes: names.length,
      batch: opts.batch,
      batches: opts.batches,
      warmupBatches: opts.warmupBatches,
      frameBytes: bytes,
      link: { events: acked, ms: t1 - t0, batchP50: percentile(rtts, 50), batchP99: percentile(rtts, 99), cpuMs: cpu1 - cpu0, stored: v.events - names.length * opts.warmupBatches * opts.batch },
      simCpuMs: runs.reduce((s, r) => s + r.cpuMs, 0),
      decoded: side(decoded),
      direct: side(direct), // replaced by before + after below
      verified: `${v.messages.toLocaleString('en-US')} messages and ${v.events.toLocaleString('en-US')} event records stored for ${sent.toLocaleString('en-US')} sent (warm-up included), none rejected, every node's last acked seq = its last seq`,
    };
    await disconnectNodes(names, sims);
    expectedOffline.n += names.length;
  }

  const rulesRaws: { label: string; names: string[]; raw: { reps: RepRaw[]; probes: number[] } }[] = [];
  if (opts.parts.has('rules')) {
    const counter = { i: 0 };
    const current = await api.get('/api/v1/rules');
    if (current.status !== 200) throw new Error(`GET /api/v1/rules: ${current.status}`);
    for (const [label, names] of [
      ['1 node', ['solo-00']],
      [`${opts.nodes} nodes`, Array.from({ length: opts.nodes }, (_, i) => `push-${pad2(i)}`)],
    ] as const) {
      const list = [...names];
      log(`rules: ${label} join`);
      await connectNodes(list, sims, wsUrl, master);
      // On joining, each node gets the current version pushed (its hello said 0) and acks it.
      const latest = (await api.get('/api/v1/rules')).json.version as number;
      await waitNodesAt(api, list, latest, 50, 20_000);
      rulesRaws.push({ label, names: list, raw: await rulesPhase(`rules, ${label}`, list, sims, api, counter) });
      await disconnectNodes(list, sims);
      expectedOffline.n += list.length;
    }
    report.notes.push(`rules versions ${current.json.version + 1}–${current.json.version + counter.i} published during the run`);
  }

  const simErrors = (await Promise.all(sims.procs.map((p) => p.call<string[]>('errors', {}, 10_000)))).flat();
  if (simErrors.length > 0) throw new Error(`simulated scanners reported: ${simErrors.slice(0, 5).join('; ')}`);
  log('stopping');
  await Promise.all(sims.procs.map((p) => p.stop()));
  await master.stop();

  if (report.ingest && direct) {
    // The same baseline once more now that the link run is over: the machine is shared and its
    // speed drifts; the table uses both runs together, the note shows each.
    log('in-process baseline again: ingestBatch');
    const after = await baselineRun('direct', 'after');
    log(`  ${Math.round((after.events * 1000) / after.ms).toLocaleString('en-US')} events/s`);
    const both: BaselineResult = {
      events: direct.events + after.events, ms: direct.ms + after.ms, cpuMs: direct.cpuMs + after.cpuMs, batchMs: [...direct.batchMs, ...after.batchMs],
      messages: direct.messages + after.messages, storedEvents: direct.storedEvents + after.storedEvents, rejected: direct.rejected + after.rejected,
    };
    report.ingest.direct = sideOf(both, 2);
    report.ingest.directRuns = [rateOf(direct), rateOf(after)];
    report.ingest.decodedRuns = [rateOf(decoded!)];
  }

  const { acked, warnings } = ackedFromLog(master.stdoutFile);
  for (const p of rulesRaws) {
    report.rules.push(summarize(p.label, p.names.length, p.raw, acked, p.names));
  }
  const offline = warnings.get('NODE_OFFLINE') ?? 0;
  if (offline !== expectedOffline.n) report.notes.push(`the master logged ${offline} NODE_OFFLINE, expected ${expectedOffline.n} (one per simulated scanner that left)`);
  warnings.delete('NODE_OFFLINE');
  if (warnings.size > 0) report.notes.push(`master warnings/errors in its log: ${[...warnings].map(([e, n]) => `${e} ×${n}`).join(', ')}`);

  report.info.durationS = (Date.now() - started) / 1000;
  const md = renderLinkReport(report);
  process.stdout.write(md);
  if (!args['no-write']) {
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, md);
    log(`written to ${relative(process.cwd(), args.out!)}`);
  }
  if (args.keep) log(`kept ${tmp.path} (master database in master/, logs in logs/)`);
  else tmp.remove();
  clearTimeout(watchdog);
}

main().catch((err: unknown) => {
  process.stderr.write(`master-link-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (args.keep) process.stderr.write(`logs kept in ${logDir}\n`);
  else process.stderr.write(`(run with --keep to keep the master's log and database: ${logDir} is removed now)\n`);
  cleanupNow();
  process.exit(1);
});
