/**
 * Master link benchmark: `node test/bench/master-link-bench.ts [--engines sqlite,postgres,postgres-sync …]`.
 * Real masters in their own processes, on each engine in turn (SQLite; a private PostgreSQL; a
 * PostgreSQL primary with a synchronous standby under pg_auto_failover, the standby's state
 * checked during the run); simulated scanners (lib/sim-scanner.ts, other processes, speaking the
 * real cluster protocol over ws://127.0.0.1) measure
 *   (a) the event ingest rate over the link, against the same events through the master's
 *       ingestBatch in-process on the same engine (lib/link-ingest-baseline.ts), with an
 *       exactly-once check and the CPU of every party;
 *   (b) the time from a rules change (PUT /api/v1/rules on master A) to every node's
 *       acknowledgement with --nodes linked, on PostgreSQL spread over --masters masters on one
 *       database (the others learn of it through LISTEN/NOTIFY), against one linked node and a
 *       heartbeat round trip of the same nodes.
 * Prints a markdown report, every engine beside SQLite's figures of the same run, and writes it
 * to test/bench/results/master-link.md. See README.md, "Master link benchmark".
 */
import { cpus, loadavg, release, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { intOption } from './lib/bench-options.ts';
import { cleanupNow } from './lib/cleanup.ts';
import { makeTempDir } from './lib/proc.ts';
import { spawnRpcChild } from './lib/ipc-rpc.ts';
import { percentile } from './lib/stats.ts';
import type { BaselineResult, BaselineSpec } from './lib/link-ingest-baseline.ts';
import { LINK_ENGINE_KEYS, linkEngineMissing, startLinkEngine, type LinkEngine, type LinkEngineKey } from './lib/link-engines.ts';
import { startBenchMaster, type BenchMaster } from './lib/link-masters.ts';
import { ingestOverLink } from './lib/link-ingest-run.ts';
import { ackedFromLogs, rulesPhase, summarizePhase, SEED_RULES, type PhaseRaw, type Placement } from './lib/link-rules.ts';
import { fleetErrors, startSimFleet, stopSimFleet, type SimFleet } from './lib/link-sims.ts';
import { renderLinkReport, type EngineRun, type InProcessIngest, type LinkReport } from './lib/link-report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const started = Date.now();

const args = (() => {
  try {
    return parseArgs({
      options: {
        engines: { type: 'string', default: LINK_ENGINE_KEYS.join(',') },
        masters: { type: 'string', default: '2' },
        'ingest-masters': { type: 'string', default: '1' },
        nodes: { type: 'string', default: '50' },
        reps: { type: 'string', default: '100' },
        'rule-warmup': { type: 'string', default: '3' },
        'ingest-nodes': { type: 'string', default: '10' },
        batch: { type: 'string', default: '500' },
        batches: { type: 'string', default: '10' },
        'warmup-batches': { type: 'string', default: '2' },
        'sim-procs': { type: 'string', default: '2' },
        heartbeat: { type: 'string', default: '1' },
        'poll-ms': { type: 'string', default: '10' },
        parts: { type: 'string', default: 'ingest,rules' },
        out: { type: 'string', default: join(here, 'results', 'master-link.md') },
        timeout: { type: 'string', default: '1800' },
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
  --engines LIST      sqlite,postgres,postgres-sync (default all three, in that order; PostgreSQL
                      engines missing here are skipped with a note, or fail with MOAT_REQUIRE_ENGINES=1)
  --masters N         masters on one PostgreSQL database for the rules change (default 2; SQLite: always 1)
  --ingest-masters N  masters the ingest scanners are spread over on PostgreSQL (default 1)
  --nodes N           simulated scanners linked for the rules change (default 50)
  --reps N            timed rules changes (and heartbeat probes) per phase (default 100)
  --rule-warmup N     untimed rules changes before them (default 3)
  --ingest-nodes N    simulated scanners sending events in parallel (default 10)
  --batch N           events per events.batch frame (default 500; the protocol allows 1000)
  --batches N         timed batches per ingest node (default 10: 10 × 10 × 500 = 50,000 events)
  --warmup-batches N  untimed batches per node before them (default 2)
  --sim-procs N       processes the simulated scanners are spread over (default 2)
  --heartbeat S       the masters' heartbeat interval in seconds (default 1)
  --poll-ms N         GET /api/v1/nodes poll interval while waiting for the acks (default 10)
  --parts LIST        ingest,rules (default both)
  --out FILE          report file (default test/bench/results/master-link.md)
  --timeout S         give up after S seconds (default 1800)
  --no-write          print only
  --keep              keep the temp folder (databases, PostgreSQL folders and logs; path printed)
`);
  process.exit(0);
}

const fail = (msg: string): never => {
  process.stderr.write(`master-link-bench: ${msg}\n`);
  process.exit(2);
};
const int = (name: string, v: string | undefined, min: number): number => {
  try {
    return intOption(name, v, min);
  } catch (err) {
    return fail((err as Error).message);
  }
};
const opts = {
  engines: args.engines!.split(',').map((s) => s.trim()).filter(Boolean) as LinkEngineKey[],
  masters: int('masters', args.masters, 1),
  ingestMasters: int('ingest-masters', args['ingest-masters'], 1),
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
for (const e of opts.engines) if (!LINK_ENGINE_KEYS.includes(e)) fail(`unknown engine ${e} (${LINK_ENGINE_KEYS.join(', ')})`);
if (opts.engines.length === 0) fail('--engines names none');
if (opts.batch > 1000) fail('--batch above 1000 is refused by the protocol (EventsBatchFrame maxItems)');
if (!(opts.heartbeat >= 0.1)) fail('--heartbeat must be >= 0.1 seconds');
for (const p of opts.parts) if (p !== 'ingest' && p !== 'rules') fail(`unknown part ${p} (ingest, rules)`);

const log = (msg: string): void => void process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);

const tmp = makeTempDir('master-link', args.keep);
const logDir = join(tmp.path, 'logs');
mkdirSync(logDir);

/** The in-process ingest on the engine: a fresh database, the PostgreSQL server's CPU read around it. */
async function inProcessIngest(engine: LinkEngine, dir: string): Promise<InProcessIngest> {
  mkdirSync(dir, { recursive: true });
  const url = await engine.newDatabase('baseline');
  const child = spawnRpcChild(`baseline-${engine.key}`, join(here, 'lib', 'link-ingest-baseline.ts'), [], logDir);
  try {
    const spec: BaselineSpec = { dir, ...(url ? { url } : {}), nodes: opts.ingestNodes, batch: opts.batch, warmupBatches: opts.warmupBatches, batches: opts.batches };
    const events = opts.ingestNodes * opts.batches * opts.batch;
    const s0 = engine.serverCpuMs();
    const r = await child.call<BaselineResult>('run', spec, 120_000 + events * 3);
    const s1 = engine.serverCpuMs();
    const sent = r.events + opts.ingestNodes * opts.warmupBatches * opts.batch;
    if (r.messages !== sent || r.storedEvents !== sent || r.rejected !== 0) {
      throw new Error(`${engine.label}: the in-process ingest stored ${r.messages} messages / ${r.storedEvents} events (${r.rejected} rejected), expected ${sent}`);
    }
    const sorted = [...r.batchMs].sort((a, b) => a - b);
    return {
      events: r.events, ms: r.ms, cpuMs: r.cpuMs, batchP50: percentile(sorted, 50), batchP99: percentile(sorted, 99),
      serverCpuMs: { primary: s1.primary - s0.primary, others: s1.others - s0.others },
      statements: r.statements, statementKinds: r.statementKinds, batches: r.batchMs.length, stored: r.storedEvents - (sent - r.events),
    };
  } finally {
    await child.stop();
  }
}

const pad2 = (i: number): string => String(i).padStart(2, '0');

/** The rules phases of an engine: one node on A, one on B (several masters), then --nodes spread over the masters. */
function phasesFor(masters: readonly BenchMaster[]): { label: string; placement: Placement[] }[] {
  const phases: { label: string; placement: Placement[] }[] = [{ label: '1 node on A', placement: [{ master: masters[0]!, names: ['solo-a'] }] }];
  if (masters.length > 1) phases.push({ label: '1 node on B (the change made on A)', placement: [{ master: masters[1]!, names: ['solo-b'] }] });
  const names = Array.from({ length: opts.nodes }, (_, i) => `push-${pad2(i)}`);
  const placement = masters.map((master, m) => ({ master, names: names.filter((_, i) => i % masters.length === m) })).filter((p) => p.names.length > 0);
  const label = masters.length === 1 ? `${opts.nodes} nodes on 1 master` : `${opts.nodes} nodes over ${placement.length} masters (${placement.map((p) => p.names.length).join(' + ')})`;
  phases.push({ label, placement });
  return phases;
}

async function runEngine(key: LinkEngineKey, fleet: SimFleet): Promise<EngineRun> {
  const dir = join(tmp.path, key);
  mkdirSync(dir);
  log(`${key}: starting the engine`);
  const engine = await startLinkEngine(key, dir);
  const masters: BenchMaster[] = [];
  try {
    const run: EngineRun = { key, label: engine.label, description: await engine.describe(), load: { start: loadavg()[0]!, end: 0 }, replication: [], rules: [], notes: [] };
    const check = async (when: string): Promise<void> => {
      const c = await engine.replication();
      if (!c) return;
      run.replication.push({ ...c, when });
      log(`${key}: ${when}: standby ${c.synchronous ? 'synchronous' : 'NOT synchronous'} (${c.synchronousStandbyNames}; ${c.standbys.map((s) => `${s.name} ${s.state} ${s.syncState}`).join(', ')})`);
    };
    await check('at the start');
    const databaseUrl = await engine.newDatabase('link');
    const want = (n: number) => (key === 'sqlite' ? 1 : n);
    const ensureMasters = async (n: number) => {
      while (masters.length < want(n)) {
        log(`${key}: starting master ${String.fromCharCode(65 + masters.length)}`);
        masters.push(await startBenchMaster({ index: masters.length, dir, logDir, databaseUrl, heartbeatSeconds: opts.heartbeat, seedRules: SEED_RULES, tag: key }, join(here, 'lib')));
      }
    };
    let leftNodes = 0;

    if (opts.parts.has('ingest')) {
      log(`${key}: in-process ingest of ${opts.ingestNodes} × ${opts.batches} × ${opts.batch} events`);
      const inProcess = await inProcessIngest(engine, join(dir, 'baseline'));
      log(`  ${Math.round((inProcess.events * 1000) / inProcess.ms).toLocaleString('en-US')} events/s`);
      await ensureMasters(opts.ingestMasters);
      const ingestMasters = masters.slice(0, want(opts.ingestMasters));
      const link = await ingestOverLink(ingestMasters, fleet, engine, { nodes: opts.ingestNodes, batch: opts.batch, batches: opts.batches, warmupBatches: opts.warmupBatches }, (m) => log(`${key}: ${m}`));
      run.ingest = { link, inProcess, masters: ingestMasters.length };
      leftNodes += opts.ingestNodes;
      await check('after the ingest');
    }

    const raws: { raw: PhaseRaw; masters: number }[] = [];
    if (opts.parts.has('rules')) {
      await ensureMasters(opts.masters);
      const counter = { i: 0 };
      for (const phase of phasesFor(masters.slice(0, want(opts.masters)))) {
        raws.push({ raw: await rulesPhase(phase.label, phase.placement, fleet, { reps: opts.reps, warmup: opts.ruleWarmup, pollMs: opts.pollMs }, counter, (m) => log(`${key}: ${m}`)), masters: phase.placement.length });
        leftNodes += phase.placement.reduce((s, p) => s + p.names.length, 0);
      }
      await check('after the rules changes');
    }

    run.load.end = loadavg()[0]!;
    log(`${key}: stopping the masters`);
    for (const m of [...masters].reverse()) await m.rpc.stop();
    const { acked, warnings } = ackedFromLogs(masters.map((m) => m.rpc.stdoutFile));
    run.rules = raws.map(({ raw, masters: n }) => summarizePhase(raw, n, acked));
    const offline = warnings.get('NODE_OFFLINE') ?? 0;
    if (offline !== leftNodes) run.notes.push(`the masters logged ${offline} NODE_OFFLINE, expected ${leftNodes} (one per simulated scanner that left)`);
    warnings.delete('NODE_OFFLINE');
    if (warnings.size > 0) run.notes.push(`master warnings/errors in their logs: ${[...warnings].map(([e, n]) => `${e} ×${n}`).join(', ')}`);
    return run;
  } finally {
    for (const m of masters) await m.rpc.stop();
    log(`${key}: stopping the engine`);
    await engine.stop();
  }
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
      load: loadavg().map((x) => x.toFixed(2)).join(', '),
    },
    ingestSpec: { nodes: opts.ingestNodes, batch: opts.batch, batches: opts.batches, warmupBatches: opts.warmupBatches },
    rulesSpec: { nodes: opts.nodes, masters: opts.masters, reps: opts.reps },
    engines: [],
    notes: [],
  };

  const fleet = await startSimFleet(opts.simProcs, join(here, 'lib'), logDir);
  for (const key of opts.engines) {
    const missing = linkEngineMissing(key);
    if (missing) {
      if (process.env['MOAT_REQUIRE_ENGINES'] === '1') throw new Error(`${key}: ${missing} (MOAT_REQUIRE_ENGINES=1)`);
      log(`${key}: skipped: ${missing}`);
      report.notes.push(`${key} skipped: ${missing}`);
      continue;
    }
    report.engines.push(await runEngine(key, fleet));
  }
  const simErrors = await fleetErrors(fleet);
  if (simErrors.length > 0) throw new Error(`simulated scanners reported: ${simErrors.slice(0, 5).join('; ')}`);
  await stopSimFleet(fleet);

  report.info.durationS = (Date.now() - started) / 1000;
  const md = renderLinkReport(report);
  process.stdout.write(md);
  if (!args['no-write']) {
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, md);
    log(`written to ${relative(process.cwd(), args.out!)}`);
  }
  if (args.keep) log(`kept ${tmp.path} (one folder per engine: masters' data, PostgreSQL; logs in logs/)`);
  else tmp.remove();
  clearTimeout(watchdog);
}

main().catch((err: unknown) => {
  process.stderr.write(`master-link-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (args.keep) process.stderr.write(`logs kept in ${logDir}\n`);
  else process.stderr.write(`(run with --keep to keep the masters' logs and databases: ${logDir} is removed now)\n`);
  cleanupNow();
  process.exit(1);
});
