/** The markdown report of the balancer benchmark (stdout and results/balancer.md). */
import type { MoatRelay, UpstreamKind } from './proxies.ts';
import { median } from './stats.ts';

export interface ProxyMeasurement {
  messages: number;
  /** Connections smtp-source opened in the throughput run. */
  connections: number;
  /** smtp-source start to the sink's last message. */
  deliveredMs: number;
  /** CPU (user + system) of the proxy's process tree during the throughput run; undefined for direct. */
  cpuMs: number | undefined;
  latency: { p50: number; p99: number; samples: number; failures: number; firstError: string | undefined };
  /** Summed VmHWM of the proxy's processes; undefined for direct. */
  peakRssKb: number | undefined;
  processes: number;
}


/**
 * One measurement from several rounds of the same target: each figure's own median (so a
 * round disturbed by a neighbour moves no figure), sample and failure counts summed, memory
 * the highest.
 */
export function medianMeasurement(ms: readonly ProxyMeasurement[]): ProxyMeasurement {
  const first = ms[0];
  if (!first) throw new Error('medianMeasurement: no measurements');
  const opt = (xs: Array<number | undefined>): number | undefined => (xs.some((x) => x === undefined) ? undefined : median(xs as number[]));
  const fails = ms.map((m) => m.latency.firstError).find((e) => e !== undefined);
  return {
    messages: first.messages,
    connections: first.connections,
    deliveredMs: median(ms.map((m) => m.deliveredMs)),
    cpuMs: opt(ms.map((m) => m.cpuMs)),
    latency: {
      p50: median(ms.map((m) => m.latency.p50)),
      p99: median(ms.map((m) => m.latency.p99)),
      samples: ms.reduce((n, m) => n + m.latency.samples, 0),
      failures: ms.reduce((n, m) => n + m.latency.failures, 0),
      firstError: fails,
    },
    peakRssKb: ms.some((m) => m.peakRssKb === undefined) ? undefined : Math.max(...ms.map((m) => m.peakRssKb!)),
    processes: first.processes,
  };
}

export type ProxyOutcome = { ok: true; m: ProxyMeasurement } | { ok: false; error: string };

export interface BalancerModeSpec {
  key: string;
  title: string;
  sessions: number;
  reuse: boolean;
}

export interface BalancerTargetSpec {
  key: 'direct' | 'moat' | 'nginx' | 'haproxy';
  column: string;
}

export interface BalancerRunInfo {
  date: string;
  cores: number;
  cpuModel: string;
  kernel: string;
  node: string;
  postfix: string;
  nginx: string;
  haproxy: string;
  messages: number;
  warmup: number;
  latencyMessages: number;
  /** Sessions of the latency runs; undefined: each mode's own (the throughput run's load). */
  latencySessions?: number;
  size: number;
  command: string;
  durationS: number;
  /** The balancer's `relay` setting in this run. */
  moatRelay: MoatRelay;
  /** What the targets forward to: Postfix's smtp-sink, or a Moat scanner relaying to one. */
  upstream: UpstreamKind;
  /** Measurements per target; each figure in the report is their median. */
  rounds: number;
  tickMs: number;
  sourceArgs: Record<string, string>;
}

const fmt = (v: number | undefined, digits = 0): string =>
  v === undefined || !Number.isFinite(v) ? '—' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const fmtMs = (v: number): string => (!Number.isFinite(v) ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '—' : `${(a / b).toFixed(2)}×`;
const added = (a: number | undefined, base: number | undefined): string =>
  a === undefined || base === undefined || !Number.isFinite(a) || !Number.isFinite(base) || base === 0
    ? '—'
    : `${a >= base ? '+' : ''}${(((a - base) / base) * 100).toFixed(0)}%`;

export const rate = (m: ProxyMeasurement): number => (m.messages * 1000) / m.deliveredMs;
export const cpuPerConnUs = (m: ProxyMeasurement): number | undefined => (m.cpuMs === undefined ? undefined : (m.cpuMs * 1000) / m.connections);
export const cpuPerMsgUs = (m: ProxyMeasurement): number | undefined => (m.cpuMs === undefined ? undefined : (m.cpuMs * 1000) / m.messages);

interface Row {
  label: string;
  value: (m: ProxyMeasurement, direct: ProxyMeasurement | undefined) => number | undefined;
  show: (m: ProxyMeasurement, direct: ProxyMeasurement | undefined) => string;
  /** Whether the ratio columns apply (no for the "vs direct" row). */
  ratios: boolean;
}

function rowsFor(mode: BalancerModeSpec): Row[] {
  return [
    { label: 'msg/s (sink received)', value: (m) => rate(m), show: (m) => fmt(rate(m)), ratios: true },
    {
      label: 'proxy CPU, ms (utime+stime)',
      value: (m) => m.cpuMs,
      show: (m) => (m.cpuMs === undefined ? '—' : fmt(m.cpuMs)),
      ratios: true,
    },
    ...(mode.reuse
      ? []
      : [{ label: '**proxy CPU per connection, µs**', value: (m: ProxyMeasurement) => cpuPerConnUs(m), show: (m: ProxyMeasurement) => fmt(cpuPerConnUs(m)), ratios: true }]),
    { label: mode.reuse ? '**proxy CPU per message, µs**' : 'proxy CPU per message, µs', value: (m) => cpuPerMsgUs(m), show: (m) => fmt(cpuPerMsgUs(m)), ratios: true },
    { label: 'latency p50, ms', value: (m) => m.latency.p50, show: (m) => fmtMs(m.latency.p50), ratios: true },
    { label: 'latency p99, ms', value: (m) => m.latency.p99, show: (m) => fmtMs(m.latency.p99), ratios: true },
    {
      label: '**p99 added vs direct**',
      value: () => undefined,
      show: (m, d) => (d === undefined || m === d ? '—' : added(m.latency.p99, d.latency.p99)),
      ratios: false,
    },
    {
      label: 'peak RSS, MiB (VmHWM)',
      value: (m) => m.peakRssKb,
      show: (m) => (m.peakRssKb === undefined ? '—' : `${fmt(m.peakRssKb / 1024)}${m.processes > 1 ? ` (${m.processes} procs)` : ''}`),
      ratios: true,
    },
  ];
}

export interface Verdict {
  line: string;
  met: boolean | undefined;
}

/** The issue's two targets, per mode where they apply. */
export function verdicts(modes: BalancerModeSpec[], results: Map<string, Map<string, ProxyOutcome>>, upstream: UpstreamKind = 'sink'): Verdict[] {
  const directTo = upstream === 'scanner' ? 'direct to the scanner' : 'direct to the sink';
  const out: Verdict[] = [];
  const get = (mode: string, key: string): ProxyMeasurement | undefined => {
    const o = results.get(mode)?.get(key);
    return o?.ok ? o.m : undefined;
  };
  for (const mode of modes) {
    const moat = get(mode.key, 'moat');
    const nginx = get(mode.key, 'nginx');
    const direct = get(mode.key, 'direct');
    if (!mode.reuse && moat && nginx) {
      const r = (cpuPerConnUs(moat) ?? NaN) / (cpuPerConnUs(nginx) ?? NaN);
      const met = Number.isFinite(r) ? r <= 1.5 : undefined;
      out.push({ line: `CPU per connection within 1.5× of nginx (${mode.title}): ${Number.isFinite(r) ? `${r.toFixed(2)}×` : '—'} → ${met === undefined ? 'n/a' : met ? 'met' : '**not met**'}`, met });
    }
    if (moat && direct) {
      const a = (moat.latency.p99 - direct.latency.p99) / direct.latency.p99;
      const met = Number.isFinite(a) ? a <= 0.1 : undefined;
      out.push({ line: `p99 added ≤ 10% vs ${directTo} (${mode.title}): ${Number.isFinite(a) ? `${a >= 0 ? '+' : ''}${(a * 100).toFixed(0)}%` : '—'} → ${met === undefined ? 'n/a' : met ? 'met' : '**not met**'}`, met });
    }
  }
  return out;
}

const RELAY_NOTE = {
  auto: ' (accept, connect and greeting gate on bare libuv TCP handles, the bytes moved by the native relay thread when it is built; see docs/balancer.md "Relay paths")',
  handles: ' (the whole connection on bare libuv TCP handles, the bytes moved in JavaScript)',
  stream: ' (net.Socket streams)',
} as const;

export function renderBalancerReport(
  info: BalancerRunInfo,
  modes: BalancerModeSpec[],
  targets: BalancerTargetSpec[],
  results: Map<string, Map<string, ProxyOutcome>>,
): string {
  const L: string[] = [];
  L.push(info.upstream === 'scanner' ? '# Balancer benchmark, in front of a Moat scanner' : '# Balancer benchmark', '');
  L.push(
    `${info.date} · ${info.cores} cores (${info.cpuModel}) · Linux ${info.kernel} · Node ${info.node} · Postfix ${info.postfix} (smtp-source, smtp-sink) · nginx ${info.nginx} · HAProxy ${info.haproxy}`,
    '',
    `${fmt(info.messages)} messages of ${fmt(info.size)} bytes per throughput run (after ${fmt(info.warmup)} warm-up), ${fmt(info.latencyMessages)} per latency run` +
      (info.latencySessions ? ` (${info.latencySessions} sessions, below saturation)` : ' (at the mode\'s own concurrency)') + '. ' +
      (info.rounds > 1 ? `Every target measured ${info.rounds} times, the run order rotated each round; each figure is the median of its ${info.rounds} rounds. ` : '') +
      `Run took ${info.durationS.toFixed(0)} s. Command: \`${info.command}\``,
    '',
  );
  const hasMoat = targets.some((t) => t.key === 'moat');
  const baselines = targets.filter((t) => t.key === 'nginx' || t.key === 'haproxy');
  for (const mode of modes) {
    const byTarget = results.get(mode.key);
    if (!byTarget) continue;
    const d = byTarget.get('direct');
    const direct = d?.ok ? d.m : undefined;
    const moatO = byTarget.get('moat');
    const moat = moatO?.ok ? moatO.m : undefined;
    L.push(`## ${mode.title}`, '', `\`${info.sourceArgs[mode.key] ?? ''}\``, '');
    const ratioCols = hasMoat ? baselines.map((b) => `Moat ÷ ${b.column}`) : [];
    L.push(`| | ${[...targets.map((t) => t.column), ...ratioCols].join(' | ')} |`);
    L.push(`| --- | ${[...targets, ...ratioCols].map(() => '---:').join(' | ')} |`);
    for (const row of rowsFor(mode)) {
      const cells = targets.map((t) => {
        const o = byTarget.get(t.key);
        if (!o) return '—';
        return o.ok ? row.show(o.m, direct) : 'failed';
      });
      const ratios = hasMoat
        ? baselines.map((b) => {
            const o = byTarget.get(b.key);
            if (!row.ratios || !moat || !o?.ok) return '—';
            return ratio(row.value(moat, direct), row.value(o.m, direct));
          })
        : [];
      L.push(`| ${row.label} | ${[...cells, ...ratios].join(' | ')} |`);
    }
    L.push('');
  }
  const v = verdicts(modes, results, info.upstream);
  if (v.length) {
    L.push('## Targets (issue 5)', '');
    for (const x of v) L.push(`- ${x.line}`);
    L.push('');
  }
  const failures = [...results.entries()].flatMap(([mode, m]) => [...m.entries()].filter(([, o]) => !o.ok).map(([t, o]) => `- ${mode} / ${t}: ${(o as { error: string }).error}`));
  if (failures.length) L.push('## Failures', '', ...failures, '');
  L.push(
    '## How it is measured',
    '',
    (info.upstream === 'scanner'
      ? '- Every target is a fresh process in front of a fresh Moat scanner (`moat scanner`, its durable queue in a temp folder, relaying to a Postfix `smtp-sink`) on 127.0.0.1; *direct* sends to the scanner itself, so "p99 added" is what a client waits longer with the balancer in front of a scanner. msg/s counts the messages the sink behind the scanner received. '
      : '- Every target is a fresh process in front of a fresh Postfix `smtp-sink` on 127.0.0.1; *direct* sends to the sink itself, so the proxy\'s cost stands against the cheapest peer there is (a C sink that discards, about 1 ms a message). ') +
      'No PROXY protocol anywhere (`proxyProtocol: off`), no health checks, one upstream, connect time-out 4 s, idle time-out 600 s.',
    '- Moat: `moat balancer --config FILE` in its own Node process (log level info; it logs nothing per connection). It holds the client until the upstream\'s 220 (greeting gate), then relays it. ' +
      `Relay: \`${info.moatRelay}\`${RELAY_NOTE[info.moatRelay]}. ` +
      'nginx: stream module, `worker_processes 1` (CPU = master + worker). HAProxy: `mode tcp`, `nbthread 1`, `-db`. One core each, so CPU per connection is compared like for like.',
    `- Proxy CPU: utime + stime of the proxy's process tree (all threads) from \`/proc/PID/stat\`, read just before smtp-source starts and once the sink has every message; clock tick ${info.tickMs} ms. ` +
      'Per connection: ÷ connections smtp-source opened (one per message in new-connection mode); per message: ÷ messages.',
    '- msg/s: messages ÷ (smtp-source start → the sink\'s `mesg` counter reaching the total). The sink must receive exactly the messages sent.',
    '- Latency: `lib/latency-client.ts`, closed loop at the same concurrency (new connection: connect → 250 after the final "."; reused: MAIL FROM → 250). ' +
      'Latency under load on a 2-core machine shared with the load generators; "p99 added" is (p99 through the proxy − p99 direct) ÷ p99 direct, from the same run.',
    '- Ratios: Moat ÷ baseline (CPU, latency, memory: lower is better; msg/s: higher is better). Compare within one run only.',
    '',
  );
  return L.join('\n');
}
