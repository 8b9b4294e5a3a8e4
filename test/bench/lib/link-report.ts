/** The master link benchmark's markdown report (stdout and results/master-link.md). */

export interface IngestSide {
  readonly events: number;
  readonly ms: number;
  readonly batchP50: number;
  readonly batchP99: number;
  /** CPU time of the process that stored the events (the master, or the baseline process). */
  readonly cpuMs: number;
  /** Event records stored by the timed run. */
  readonly stored: number;
}

export interface Stat {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly n: number;
}

export interface RulesPhase {
  readonly label: string;
  readonly nodes: number;
  readonly reps: number;
  readonly masterAllAcked: Stat;
  readonly allPushReceived: Stat;
  readonly firstPushReceived: Stat;
  readonly apiAllCurrent: Stat;
  readonly putAnswered: Stat;
  readonly heartbeatAll: Stat;
}

export interface LinkReport {
  info: {
    date: string;
    cores: number;
    cpuModel: string;
    memGiB: number;
    kernel: string;
    node: string;
    command: string;
    durationS: number;
    heartbeatS: number;
    simProcs: number;
    pollMs: number;
  };
  ingest:
    | {
        nodes: number;
        batch: number;
        batches: number;
        warmupBatches: number;
        frameBytes: number;
        link: IngestSide;
        simCpuMs: number;
        decoded: IngestSide;
        direct: IngestSide;
        /** events/s of each in-process run (ingestBatch: before and after the link run). */
        directRuns?: number[];
        decodedRuns?: number[];
        verified: string;
      }
    | undefined;
  rules: RulesPhase[];
  notes: string[];
}

const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const ms = (v: number): string => (!Number.isFinite(v) ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (a: number, b: number): string => (!Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '—' : `${(a / b).toFixed(2)}×`);
const rate = (s: IngestSide): number => (s.events * 1000) / s.ms;
const cpuPerK = (s: IngestSide): number => (s.cpuMs * 1000) / s.events;

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function renderLinkReport(r: LinkReport): string {
  const out: string[] = [];
  const i = r.info;
  out.push('# Master link benchmark', '');
  out.push(`- Date: ${i.date}`);
  out.push(`- Machine: ${i.cores} cores (${i.cpuModel}), ${i.memGiB} GiB RAM, Linux ${i.kernel}; Node ${i.node}`);
  out.push(
    `- A real master (startMaster, log level info, heartbeat ${i.heartbeatS} s) in its own process; simulated scanners in ${i.simProcs} other ` +
      'process(es) speak the real cluster protocol over ws://127.0.0.1 (lib/sim-scanner.ts). All processes share the cores.',
  );
  out.push(`- Command: \`${i.command}\` (took ${i.durationS.toFixed(0)} s)`);
  out.push('');

  const g = r.ingest;
  if (g) {
    out.push(`## (a) Event ingest: ${g.nodes} scanners × ${g.batches} batches × ${g.batch} message.logged events`, '');
    out.push(
      ...table(
        ['', 'over the link', 'in-process: decode + ingestBatch', 'in-process: ingestBatch', 'link ÷ decode + ingest', 'link ÷ ingestBatch'],
        [
          ['**events/s**', `**${n0(rate(g.link))}**`, n0(rate(g.decoded)), n0(rate(g.direct)), ratio(rate(g.link), rate(g.decoded)), ratio(rate(g.link), rate(g.direct))],
          [`batch of ${g.batch}: p50 (ms) ¹`, ms(g.link.batchP50), ms(g.decoded.batchP50), ms(g.direct.batchP50), '', ''],
          [`batch of ${g.batch}: p99 (ms) ¹`, ms(g.link.batchP99), ms(g.decoded.batchP99), ms(g.direct.batchP99), '', ''],
          ['storing process CPU per 1,000 events (ms)', ms(cpuPerK(g.link)), ms(cpuPerK(g.decoded)), ms(cpuPerK(g.direct)), ratio(cpuPerK(g.link), cpuPerK(g.decoded)), ratio(cpuPerK(g.link), cpuPerK(g.direct))],
          ['event records stored / sent (timed run)', `${n0(g.link.stored)} / ${n0(g.link.events)}`, `${n0(g.decoded.stored)} / ${n0(g.decoded.events)}`, `${n0(g.direct.stored)} / ${n0(g.direct.events)}`, '', ''],
        ],
      ),
    );
    out.push('');
    out.push(
      `- ¹ Not comparable one to one, so no ratio: over the link it is send → events.ack at the scanner, with ${g.nodes} nodes each keeping a ` +
        `batch in flight and the master storing one at a time, so it includes waiting behind the others (≈ ${g.nodes} × the master's time per ` +
        'batch); in-process it is one ingestBatch call.',
    );
    if (g.directRuns && g.directRuns.length > 1) {
      out.push(
        `- In-process ingestBatch ran before and after the link run (${g.directRuns.map(n0).join(' and ')} events/s); its column is the two together. ` +
          `decode + ingestBatch ran before it (${(g.decodedRuns ?? []).map(n0).join(', ')} events/s). The spread between runs is the machine's noise.`,
      );
    }
    out.push(`- Exactly once over the link: ${g.verified}.`);
    out.push(
      `- Link run: ${(g.frameBytes / 2 ** 20).toFixed(1)} MiB of events.batch frames; the simulated scanners used ${n0(g.simCpuMs)} ms CPU ` +
        `(${ms((g.simCpuMs * 1000) / g.link.events)} ms per 1,000 events) on the same cores during the ${n0(g.link.ms)} ms run.`,
    );
    out.push('');
  }

  if (r.rules.length > 0) {
    const many = [...r.rules].sort((a, b) => b.nodes - a.nodes)[0]!;
    const one = r.rules.find((p) => p.nodes === 1 && p !== many);
    out.push(`## (b) Rules change to every acknowledgement: ${many.nodes} connected scanners, ${many.reps} changes`, '');
    type Key = 'masterAllAcked' | 'allPushReceived' | 'firstPushReceived' | 'putAnswered' | 'apiAllCurrent' | 'heartbeatAll';
    const rows: [string, Key][] = [
      ['**PUT /api/v1/rules → master recorded every rules.ack**', 'masterAllAcked'],
      ['PUT → every node received rules.push', 'allPushReceived'],
      ['PUT → first node received rules.push', 'firstPushReceived'],
      ['PUT answered (200)', 'putAnswered'],
      [`PUT → GET /api/v1/nodes shows every node current (polled every ${i.pollMs} ms)`, 'apiAllCurrent'],
      ['baseline: heartbeat round trip, every node answered', 'heartbeatAll'],
    ];
    const head = ['(ms)', `${many.nodes} nodes p50`, `${many.nodes} nodes p99`];
    if (one) head.push('1 node p50', '1 node p99', `${many.nodes} ÷ 1 node (p50)`);
    head.push(`÷ ${many.nodes}-node heartbeat round trip (p50)`);
    out.push(
      ...table(
        head,
        rows.map(([label, key]) => {
          const bold = key === 'masterAllAcked' ? (s: string) => `**${s}**` : (s: string) => s;
          const cells = [label, bold(ms(many[key].p50)), bold(ms(many[key].p99))];
          if (one) cells.push(ms(one[key].p50), ms(one[key].p99), ratio(many[key].p50, one[key].p50));
          cells.push(key === 'heartbeatAll' ? '1.00×' : ratio(many[key].p50, many.heartbeatAll.p50));
          return cells;
        }),
      ),
    );
    out.push('');
    if (one && many.nodes > 1) {
      const per = (key: 'masterAllAcked' | 'heartbeatAll'): string => ms((many[key].p50 - one[key].p50) / (many.nodes - 1));
      out.push(
        `- Per extra connected node (p50, (${many.nodes} nodes − 1 node) ÷ ${many.nodes - 1}): ${per('masterAllAcked')} ms until every ack is recorded, ` +
          `${per('heartbeatAll')} ms of heartbeat round trip. On the master each rules.ack and each heartbeat is one node-registry UPDATE in its own ` +
          'SQLite transaction (synchronous = FULL), handled one after another on its event loop.',
      );
    }
    out.push(
      `- ${many.reps} timed changes per column (p99 of ${many.reps} samples by nearest rank${many.reps < 100 ? ' is the largest or nearly the largest' : ''}); ` +
        `max ${ms(many.masterAllAcked.max)} ms for ${many.nodes} nodes${one ? `, ${ms(one.masterAllAcked.max)} ms for 1 node` : ''}.`,
    );
    out.push('');
  }

  if (r.notes.length > 0) {
    out.push('## Notes', '');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }

  out.push('## How each figure is measured', '');
  out.push(
    '- **Simulated scanners** (test/bench/lib/sim-scanner.ts): `ws` clients, many per process, that do what apps/scanner/src/link/cluster-link.ts ' +
      'does on the wire: answer `challenge` with `hello` (HMAC proof under the join secret, so every node joins anew), heartbeat every interval ' +
      'from `welcome`, answer `rules.push` at once with `rules.ack {ok: true}` (no validation or disk write of the rules, unlike a real scanner), ' +
      'and send `events.batch` with one batch in flight per node. Every frame from the master is checked with decodeToScanner.',
    '- **(a) over the link**: the batches are built and JSON-encoded before the clock starts; then every node sends its batches, each after the ' +
      'previous one\'s `events.ack` (whose `upToSeq` must be the batch\'s last seq). events/s = events acknowledged ÷ (last ack − first send), ' +
      'across all nodes and processes. A warm-up of the same shape (not counted) runs first. The master decodes and validates each frame, stores ' +
      'it with ingestBatch (one SQLite transaction per batch, synchronous = FULL) and answers. Afterwards the master\'s database must hold ' +
      'exactly one message row and one event record per event sent, none rejected.',
    '- **(a) in-process baselines** (test/bench/lib/link-ingest-baseline.ts, a fresh process and a fresh master database each, same folder): the same ' +
      'events in the same batches, interleaved across the same number of nodes, through `createIngest(db).ingestBatch`, one call after another. ' +
      '*decode + ingestBatch* also does the master\'s per-frame work: decodeToMaster (JSON.parse + schema check) of the encoded frame and ' +
      'encodeFrame of the ack. So link ÷ decode+ingest is the cost of the transport itself (WebSocket, event loop, scanner processes on the same ' +
      'cores, one batch in flight per node); link ÷ ingestBatch the whole link. Batch p50/p99: over the link, from sending a batch to its ack at ' +
      'the scanner; in-process, one call. CPU per 1,000 events: the master process\'s CPU time (all threads) over the timed run, or the ' +
      'baseline process\'s over its loop.',
    '- **(b) rules change**: the benchmark PUTs a new rules document through the REST API (an admin session), the master stores it as the next ' +
      'version and pushes it to every connected node. *master recorded every rules.ack*: the latest timestamp of the master\'s own RULES_ACKED log ' +
      'lines for that version (written right after it stores the ack; millisecond resolution) − the moment before the PUT. *received rules.push*: ' +
      'the simulated scanners\' receipt times (they answer at once). *GET /api/v1/nodes*: the benchmark polls the API after the PUT is answered, ' +
      'every few ms, until every node shows the new version (what a console user would see). Each change is preceded by the heartbeat probe and ' +
      'followed by a 20–50 ms pause; a few untimed changes run first.',
    '- **(b) baselines**: *1 node*: the same measurements with only one scanner connected (so N ÷ 1 node is the cost of the fan-out). *heartbeat round trip*: every ' +
      'connected node sends a heartbeat at the same moment (the master stores it in its node registry and answers each one); time from the first ' +
      'send to the last answer: the same connections, frames and registry writes as the acks, without the rules publication.',
    '- Ratios are link (or N nodes) ÷ baseline: for events/s below 1× means slower than the baseline; for times and CPU above 1× means longer or costlier.',
    '- Times across processes are wall-clock epoch times (performance.timeOrigin + performance.now()) on the same machine. The machine is small, ' +
      'shared and noisy, and master, scanners and benchmark run on the same cores: compare figures within one run.',
  );
  out.push('');
  return out.join('\n');
}
