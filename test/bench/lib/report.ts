/** Turns the measurements into the markdown report (stdout and results/scanner.md). */
import type { RssResult } from './rss.ts';

export interface Measurement {
  messages: number;
  /** smtp-source start to the last message delivered by the target. */
  deliveredMs: number;
  /** smtp-source start to its exit (every message got its 250). */
  acceptedMs: number;
  latency: { p50: number; p99: number; samples: number; failures: number; firstError: string | undefined };
  rss: RssResult;
  /** CPU (user + system) the target spent on the throughput run, ÷ its messages, in ms. */
  cpuMsPerMessage: number;
}

export type Outcome = { ok: true; m: Measurement } | { ok: false; error: string };

export interface ModeSpec {
  key: string;
  title: string;
  sessions: number;
  reuse: boolean;
}

export interface TargetSpec {
  key: string;
  column: string;
  /** Name in the ratio columns. */
  short: string;
}

export interface RunInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memGiB: number;
  kernel: string;
  node: string;
  postfix: string;
  smtpServer: string;
  messages: number;
  warmup: number;
  latencyMessages: number;
  size: number;
  command: string;
  durationS: number;
  deliveredHow: Record<string, string>;
  /** smtp-source command line per mode key (port shown as PORT). */
  sourceArgs: Record<string, string>;
}

const fmtRate = (msgs: number, ms: number): string => Math.round((msgs * 1000) / ms).toLocaleString('en-US');
const rate = (msgs: number, ms: number): number => (msgs * 1000) / ms;
const fmtMs = (v: number): string => (!Number.isFinite(v) ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtMiB = (kb: number): string => (kb / 1024).toFixed(0);
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '—' : `${(a / b).toFixed(2)}×`;

interface Row {
  label: string;
  value: (m: Measurement) => number;
  show: (m: Measurement) => string;
}

const rows: Row[] = [
  { label: 'delivered msg/s', value: (m) => rate(m.messages, m.deliveredMs), show: (m) => fmtRate(m.messages, m.deliveredMs) },
  { label: 'accepted msg/s (smtp-source done)', value: (m) => rate(m.messages, m.acceptedMs), show: (m) => fmtRate(m.messages, m.acceptedMs) },
  { label: 'CPU per message (ms, user+sys)', value: (m) => m.cpuMsPerMessage, show: (m) => fmtMs(m.cpuMsPerMessage) },
  { label: 'latency p50 (ms)', value: (m) => m.latency.p50, show: (m) => fmtMs(m.latency.p50) },
  { label: 'latency p99 (ms)', value: (m) => m.latency.p99, show: (m) => fmtMs(m.latency.p99) },
  {
    label: 'peak RSS (MiB)',
    value: (m) => m.rss.peakKb,
    show: (m) => (m.rss.processes > 1 ? `${fmtMiB(m.rss.peakKb)} (PSS, ${m.rss.processes} procs)` : fmtMiB(m.rss.peakKb)),
  },
];

/**
 * One table per mode: metrics as rows, targets as columns, then the scanner's ratio to each
 * baseline. `subject` is the target the ratios are about; `baselines` the others.
 */
export function renderReport(
  info: RunInfo,
  modes: ModeSpec[],
  targets: TargetSpec[],
  results: Map<string, Map<string, Outcome>>,
  subject: string,
): string {
  const out: string[] = [];
  out.push('# Scanner benchmark', '');
  out.push(`- Date: ${info.date}`);
  out.push(`- Machine: ${info.cores} cores (${info.cpuModel}), ${info.memGiB} GiB RAM, Linux ${info.kernel}`);
  out.push(`- Node ${info.node}, Postfix ${info.postfix}, smtp-server ${info.smtpServer}`);
  out.push(
    `- Messages: ${info.messages.toLocaleString('en-US')} per throughput run (after ${info.warmup} warm-up messages), ` +
      `${info.latencyMessages.toLocaleString('en-US')} per latency run; payload ${info.size.toLocaleString('en-US')} bytes ` +
      `(smtp-source \`-l\`, plus 4 header lines); one recipient @example.test`,
  );
  out.push(`- Command: \`${info.command}\` (took ${info.durationS.toFixed(0)} s); all traffic on 127.0.0.1`);
  out.push('');
  const subj = targets.find((t) => t.key === subject);
  const baselines = targets.filter((t) => t.key !== subject);
  for (const mode of modes) {
    const byTarget = results.get(mode.key) ?? new Map<string, Outcome>();
    out.push(`## ${mode.title}`, '');
    const head = ['', ...targets.map((t) => t.column), ...(subj ? baselines.map((b) => `${subj.short} ÷ ${b.short}`) : [])];
    out.push(`| ${head.join(' | ')} |`);
    out.push(`| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
    for (const row of rows) {
      const cells = [row.label];
      for (const t of targets) {
        const o = byTarget.get(t.key);
        cells.push(o?.ok ? row.show(o.m) : o ? 'failed' : 'not run');
      }
      if (subj) {
        const s = byTarget.get(subj.key);
        for (const b of baselines) {
          const o = byTarget.get(b.key);
          cells.push(s?.ok && o?.ok ? ratio(row.value(s.m), row.value(o.m)) : '—');
        }
      }
      out.push(`| ${cells.join(' | ')} |`);
    }
    out.push('');
    for (const t of targets) {
      const o = byTarget.get(t.key);
      if (o && !o.ok) out.push(`- **${t.column} failed:** ${o.error.split('\n').join('\n  ')}`);
      if (o?.ok && o.m.latency.failures > 0) {
        out.push(`- ${t.column}: ${o.m.latency.failures} latency-client messages failed (first: ${o.m.latency.firstError})`);
      }
    }
    if ([...byTarget.values()].some((o) => !o.ok)) out.push('');
  }
  out.push('## How each figure is measured', '');
  out.push(
    `- **Modes.** *New connection per message*: \`${info.sourceArgs.new ?? 'smtp-source -s 200 ...'}\` (each message gets its own ` +
      'TCP connection: greeting, HELO, MAIL, RCPT, DATA, QUIT). smtp-server (under both Node servers) holds its greeting back a ' +
      'fixed 100 ms, which alone caps them near sessions ÷ 0.1 s = 2,000 msg/s at 200 sessions; Postfix has no such delay. ' +
      `*Reused connections*: \`${info.sourceArgs.reuse ?? 'smtp-source -d -s 20 ...'}\` (\`-d\`: each session keeps its connection ` +
      'for the next message). smtp-source does not pipeline commands.',
    '- **delivered msg/s**: messages ÷ time from starting smtp-source to the moment the last message reached the end of ' +
      'the target\'s pipeline. The end is: ' +
      targets.map((t) => `${t.column}: ${info.deliveredHow[t.key] ?? '?'}`).join('; ') +
      '. Every run checks that exactly the number of messages sent (warm-up, throughput and latency runs) arrived.',
    '- **accepted msg/s**: messages ÷ time until smtp-source exited, i.e. every message had its 250 after DATA. For a ' +
      'queueing server this can be higher than delivered msg/s (the queue absorbs the burst).',
    '- **latency**: smtp-source reports none, so a separate run of our own closed-loop client (test/bench/lib/latency-client.ts, ' +
      'no pipelining, same sessions and reuse mode, same message shape) times each message: new connection per message = ' +
      'connect() to the 250 after DATA (includes smtp-server\'s fixed 100 ms greeting delay for the two Node servers); ' +
      'reused connection = MAIL FROM to the 250 after DATA. This is latency under load at that concurrency, not on an idle server ' +
      '(in a closed loop p50 ≈ sessions ÷ msg/s). The client runs in the benchmark\'s own Node process, on the same 2 cores. ' +
      'Delivery to the downstream happens after the 250 and is not part of it.',
    '- **CPU per message**: user + system CPU time of the target (from /proc/PID/stat, fields 14 and 15) read just before ' +
      'smtp-source starts the throughput run and again once the last message is delivered, ÷ messages. Scanner and bare sink: ' +
      'their one process. Postfix: the master and every daemon, living ones (utime + stime) plus the ones already reaped ' +
      '(their parent\'s cutime + cstime), so short-lived smtpd processes count. It depends less than msg/s on what else the ' +
      'shared machine runs, but still does: the kernel time of creating a file rose from 30–50 µs to 400–700 µs when other ' +
      'processes created files at the same time (measured), and both the scanner and Postfix create one per message; compare ' +
      'runs taken side by side (lower is better); the scanner\'s downstream ' +
      'smtp-sink and the load generator are not in it.',
    '- **peak RSS**: single process (scanner, bare sink): VmHWM from /proc/PID/status read before it stops, over the whole ' +
      'instance life (warm-up, throughput and latency runs). Postfix has no single process: its figure is the highest sum of ' +
      'PSS (/proc/PID/smaps_rollup; a page shared by k processes counts 1/k in each) over the master and all its daemons ' +
      '(smtpd, cleanup, qmgr, discard, ...), sampled every 200 ms; the plain sum of their VmRSS would count the shared ' +
      'libraries once per process and is several times larger (it is in the run log).',
    '- **Ratios** are the scanner\'s figure ÷ the baseline\'s: for msg/s higher is better, for latency and memory lower is better.',
    '- Each target and mode gets a fresh instance. Baselines: the **bare smtp-server sink** (drains DATA, no disk, no relay) is ' +
      'the ceiling for a Node smtp-server stack; **Postfix** (private instance, queue on disk with fsync, `discard` transport, ' +
      '`default_process_limit` ≥ sessions, otherwise stock settings) is the durable reference; **Postfix, relay** is the same ' +
      'instance doing the scanner\'s whole job: its `smtp` client relays every message to an smtp-sink (`relayhost = ' +
      '[127.0.0.1]:port`), as the scanner relays to its own. The machine is shared and noisy: ' +
      'compare figures within one run, not across runs.',
  );
  out.push('');
  return out.join('\n');
}

/**
 * The analyzers' cost: for each mode, the bare pipeline (`bare`, the scanner without analyzers)
 * and each analyzer target of the same run, with delivered msg/s and latency, and msg/s as a
 * ratio to the bare pipeline (1.00× = free; 0.50× = half the throughput).
 */
export function renderAnalyzerCost(modes: ModeSpec[], analyzerTargets: TargetSpec[], results: Map<string, Map<string, Outcome>>, bare: string): string {
  const out: string[] = ['', '## Analyzer cost (ratios to the bare pipeline of the same run)', ''];
  out.push(
    'Each row is a fresh scanner with only that analyzer on (its engine started on loopback, on the same cores as the ' +
      'scanner and the load generator, so the engine\'s CPU is in the figure); the last row has every one on. Every DNS ' +
      'answer comes from a local dnsmasq (NXDOMAIN, cached), so DNS latency is not in it.',
    '',
  );
  for (const mode of modes) {
    const byTarget = results.get(mode.key) ?? new Map<string, Outcome>();
    const base = byTarget.get(bare);
    out.push(`### ${mode.title}`, '');
    out.push('| pipeline | delivered msg/s | ÷ bare pipeline | accepted msg/s | latency p50 (ms) | latency p99 (ms) | peak RSS (MiB) |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const line = (label: string, o: Outcome | undefined) => {
      if (!o) return `| ${label} | not run | | | | | |`;
      if (!o.ok) return `| ${label} | failed | | | | | |`;
      const m = o.m;
      const r = base?.ok ? ratio(rate(m.messages, m.deliveredMs), rate(base.m.messages, base.m.deliveredMs)) : '—';
      return `| ${label} | ${fmtRate(m.messages, m.deliveredMs)} | ${r} | ${fmtRate(m.messages, m.acceptedMs)} | ${fmtMs(m.latency.p50)} | ${fmtMs(m.latency.p99)} | ${fmtMiB(m.rss.peakKb)} |`;
    };
    out.push(line('bare pipeline (no analyzers)', base));
    for (const t of analyzerTargets) out.push(line(t.column, byTarget.get(t.key)));
    out.push('');
    for (const t of analyzerTargets) {
      const o = byTarget.get(t.key);
      if (o && !o.ok) out.push(`- **${t.column} failed:** ${o.error.split('\n').join('\n  ')}`);
    }
  }
  return out.join('\n');
}
