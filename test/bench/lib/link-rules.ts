/**
 * (b) of the master link benchmark: a rules change (PUT /api/v1/rules on the first master) to
 * every node's rules.ack, with the nodes linked to one master or spread over several on one
 * PostgreSQL (the others learn of the change through db/change-notices.ts). Each change is
 * preceded by a heartbeat probe of the same nodes (the baseline). The acks' times come from the
 * masters' own RULES_ACKED log lines, read after the run (`ackedFromLogs`).
 */
import { readFileSync } from 'node:fs';
import { sleep } from './proc.ts';
import { epochMs } from './sim-events.ts';
import { percentile } from './stats.ts';
import type { BenchMaster } from './link-masters.ts';
import type { RulesPhase, Stat } from './link-report.ts';
import { byOwner, linkNodes, unlinkNodes, type SimFleet } from './link-sims.ts';
import { waitNodesAt, waitNodesOffline } from './link-node-list.ts';

/** The rules document of the i-th change: the bench master's seed with another senderBlock entry. */
export const rulesDoc = (i: number) => ({
  version: 1,
  acceptedDomains: ['example.test'],
  lists: { senderBlock: ['*@blocked.example', `*@x${i}.example`], ipBlock: [] as string[] },
  limits: { maxMessageBytes: 1024 * 1024, maxRecipients: 50 },
  content: [
    { id: 'quarantine-me', target: 'subject', contains: 'QUARANTINE-ME', action: 'quarantine' },
    { id: 'tag-me', target: 'subject', contains: 'TAG-ME', action: 'tag' },
  ],
});
export const SEED_RULES = { ...rulesDoc(0), lists: { senderBlock: ['*@blocked.example'], ipBlock: [] } };

export interface RulesOptions {
  readonly reps: number;
  readonly warmup: number;
  readonly pollMs: number;
}

/** Which nodes link to which master in a phase. */
export interface Placement {
  readonly master: BenchMaster;
  readonly names: readonly string[];
}

interface RepRaw {
  version: number;
  t0Wall: number;
  putMs: number;
  apiAllMs: number;
  firstPushMs: number;
  lastPushMs: number;
}

export interface PhaseRaw {
  readonly label: string;
  readonly names: readonly string[];
  readonly reps: RepRaw[];
  readonly probes: number[];
}

/**
 * One phase: the placement's nodes join (and nothing else is linked), then warm-up + timed
 * reps of (heartbeat probe, rules change on `put`'s master), then they leave.
 */
export async function rulesPhase(label: string, placement: readonly Placement[], fleet: SimFleet, opts: RulesOptions, counter: { i: number }, log: (m: string) => void): Promise<PhaseRaw> {
  const api = placement[0]!.master.api;
  const names = placement.flatMap((p) => p.names);
  log(`rules, ${label}: join`);
  const tokens = await placement[0]!.master.joinTokens(names);
  for (const p of placement) await linkNodes(fleet, p.names, p.master.wsUrl, tokens);
  // On joining, each node gets the current version pushed (its hello said 0) and acks it.
  const latest = (await api.get('/api/v1/rules')).json.version as number;
  await waitNodesAt(api, names, latest, 50, 30_000);

  const owners = byOwner(fleet, names);
  const reps: RepRaw[] = [];
  const probes: number[] = [];
  for (let r = 0; r < opts.warmup + opts.reps; r++) {
    const timed = r >= opts.warmup;
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
      reps.push({ version, t0Wall, putMs: tPut - t0, apiAllMs: tApi - t0, firstPushMs: Math.min(...(at as number[])) - t0, lastPushMs: Math.max(...(at as number[])) - t0 });
    }
    if (r === opts.warmup - 1 || (timed && (r - opts.warmup + 1) % 25 === 0)) log(`rules, ${label}: ${timed ? r - opts.warmup + 1 : 'warm-up'}${timed ? `/${opts.reps}` : ''} rules changes done`);
    await sleep(20 + Math.random() * 30);
  }
  await unlinkNodes(fleet, names);
  await waitNodesOffline(api, names, 15_000);
  return { label, names, reps, probes };
}

/** RULES_ACKED lines of the masters' logs: version → node → time (epoch ms, from the ISO timestamp); and the warnings by event. */
export function ackedFromLogs(files: readonly string[]): { acked: Map<number, Map<string, number>>; warnings: Map<string, number> } {
  const acked = new Map<number, Map<string, number>>();
  const warnings = new Map<string, number>();
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      let rec: { level?: number | string; time?: string | number; event?: string; node?: string; version?: number };
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      const level = typeof rec.level === 'number' ? rec.level : { warn: 40, error: 50, fatal: 60 }[String(rec.level)] ?? 0;
      if (level >= 40) warnings.set(rec.event ?? '(no event)', (warnings.get(rec.event ?? '(no event)') ?? 0) + 1);
      if (rec.event !== 'RULES_ACKED' || typeof rec.version !== 'number' || !rec.node) continue;
      const t = typeof rec.time === 'number' ? rec.time : Date.parse(String(rec.time));
      if (!acked.has(rec.version)) acked.set(rec.version, new Map());
      acked.get(rec.version)!.set(rec.node, t);
    }
  }
  return { acked, warnings };
}

const stat = (xs: number[]): Stat => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1]!, n: s.length };
};

export function summarizePhase(raw: PhaseRaw, masters: number, acked: Map<number, Map<string, number>>): RulesPhase {
  const masterAllMs = raw.reps.map((r) => {
    const per = acked.get(r.version);
    const missing = raw.names.filter((n) => !per?.has(n));
    if (missing.length > 0) throw new Error(`${raw.label}: the masters logged no RULES_ACKED of version ${r.version} for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    return Math.max(...raw.names.map((n) => per!.get(n)!)) - r.t0Wall;
  });
  return {
    label: raw.label,
    nodes: raw.names.length,
    masters,
    reps: raw.reps.length,
    masterAllAcked: stat(masterAllMs),
    allPushReceived: stat(raw.reps.map((r) => r.lastPushMs)),
    firstPushReceived: stat(raw.reps.map((r) => r.firstPushMs)),
    apiAllCurrent: stat(raw.reps.map((r) => r.apiAllMs)),
    putAnswered: stat(raw.reps.map((r) => r.putMs)),
    heartbeatAll: stat(raw.probes),
  };
}
