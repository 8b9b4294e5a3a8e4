/**
 * `pnpm bench:detection`: how much spam Moat catches and how much good mail it flags, on real
 * mail, beside the engines it runs, measured in one run.
 *
 * As `pnpm start` runs them: Rspamd keeps Bayes and fuzzy hashes in its Redis, and learn events
 * teach both (spam's fuzzy hashes are added).
 *
 * The corpus is the SpamAssassin public corpus, groups `spam` and `easy_ham` only (see
 * lib/spam-corpus.ts), split by a hash of each message's id into a calibration half and an
 * evaluation half. Every figure is on the evaluation half, which is never trained or tuned on.
 * A real scanner (in this process, default rules, SpamAssassin and Rspamd as its engines,
 * private instances on loopback with network tests off) takes each message over SMTP,
 * `--sessions` (4) at a time; its verdict and the engines' own answers are read from the
 * scanner's message log, so "each engine alone" is measured in the same pass.
 *
 * Phases (one fresh set of engines, in order):
 *   untrained  nothing learned
 *   trained    after the calibration half is learned with the real `moat learn --spam --ham`
 *   online     continuing from there, each wrong verdict is corrected through the learn route (POST /api/v1/learn) right after
 *              it is given, as users correct mistakes; every message is judged before its
 *              own correction
 * and, with `--calibrate FILE`, the calibration half judged in five folds (learn four fifths,
 * judge the fifth, on fresh engines), each message's signals written as JSON lines
 * for test/bench/calibrate-detection.ts: there every weight is 1 (each reason holds the
 * engine's raw points) and both engines judge every message (no skipping). The evaluation half
 * plays no part in calibration.
 *
 * Moat runs as `pnpm start` configures it: Rspamd first, SpamAssassin skipped when Rspamd
 * settles good mail (`analyzers.spamassassin.skipWhenRspamdSure`). SpamAssassin alone's figures
 * for a message Moat did not send to spamd are spamd's own answer to it, asked right after (the
 * same Received line first, the same Bayes). After learning, the throughput is measured
 * interleaved: the evaluation half in chunks, each through Moat then straight to spamd, so both
 * meet the same load on a shared machine; the CPU each process spent per message is noted.
 *
 * Prints a markdown table and writes it to test/bench/results/detection.md.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DETECTION_MODEL, demoRules, validateRules } from '@moat/rules';
import type { Master } from '@moat/master';
import type { Scanner } from '@moat/scanner';
import { startDnsStub, startRedis, startRspamd, startSpamd, type DnsStub, type Redis, type Rspamd, type Spamd } from '@moat/engines';
import { check } from '../../apps/scanner/src/analyzers/spamassassin/spamc-client.ts';
import { receivedHeader } from '../../apps/scanner/src/pipeline/delivery-headers.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { sendMail } from '../helpers/smtp-client.ts';
import { benchLog } from './lib/bench-options.ts';
import { treeCpuWithReapedMs } from './lib/proc-cpu.ts';
import { ensureCorpus, loadCorpus, shuffled, type CorpusMessage } from './lib/spam-corpus.ts';
import { moatFlags, rates, readOutcome, rspamdFlags, saFlags, type Outcome } from './lib/detection-outcome.ts';
import { renderDetectionReport, type PhaseResult } from './lib/detection-report.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '4' },
    sample: { type: 'string', default: '1' },
    seed: { type: 'string', default: '17' },
    out: { type: 'string', default: join(HERE, 'results', 'detection.md') },
    cache: { type: 'string', default: join(HERE, '..', '..', 'var', 'bench-cache', 'spam-assassin') },
    calibrate: { type: 'string' },
    'skip-phases': { type: 'string', default: '' },
    verdicts: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write('usage: pnpm bench:detection [--sessions 4] [--sample 1] [--seed 17] [--out FILE] [--calibrate SIGNALS.jsonl] [--skip-phases online] [--verdicts FILE]\n  --sample N: every Nth message only (a quick look: 4 takes a quarter of the time)\n  --verdicts FILE: the verdict on every evaluation message in each phase, with its reasons, as JSON lines (which messages were misjudged, and why)\n');
  process.exit(0);
}
const SESSIONS = Number(opts.sessions);
const SAMPLE = Number(opts.sample);
const SEED = Number(opts.seed);
const skip = new Set(opts['skip-phases']!.split(',').filter(Boolean));

interface Stack {
  readonly dns: DnsStub;
  readonly redis: Redis;
  readonly spamd: Spamd;
  readonly rspamd: Rspamd;
  readonly downstream: Downstream;
  readonly master: Master & { wsUrl: string };
  readonly scanner: Scanner;
  /** An admin's API token on the master (for `moat learn` and the learn route). */
  readonly token: string;
  close(): Promise<void>;
}

/**
 * The engines (private spamd with TELL allowed; Rspamd with its Bayes in a private Redis and a
 * DNS stub that answers NXDOMAIN at once), a master with `pnpm start`'s demo rules (a message
 * size limit fit for the corpus) and a scanner joined to it that uses both engines and applies
 * the master's learn events to them.
 */
async function startStack(options: { calibrate?: boolean } = {}): Promise<Stack> {
  const dns = await startDnsStub();
  const redis = await startRedis();
  const [spamd, rspamd] = await Promise.all([startSpamd({ allowTell: true }), startRspamd({ redis: redis.address, dnsServer: dns.address, fuzzy: true })]);
  const downstream = await startDownstream();
  const master = await startTestMaster({ seed: validateRules({ ...demoRules(), limits: { maxMessageBytes: 10 * 1024 * 1024, maxRecipients: 50 } }) });
  const scanner = await startClusterScanner('bench-scanner', master.wsUrl, downstream.port, {
    // Calibration reads the engines' raw points (every weight 1) from both engines on every message.
    analyzers: options.calibrate
      ? { spamassassin: { host: spamd.host, port: spamd.port, scoreWeight: 1, skipWhenRspamdSure: false }, rspamd: { url: rspamd.url, controllerUrl: rspamd.controllerUrl, fuzzy: true, scoreWeight: 1 } }
      : { spamassassin: { host: spamd.host, port: spamd.port }, rspamd: { url: rspamd.url, controllerUrl: rspamd.controllerUrl, fuzzy: true } },
  });
  const api = await apiClient(master.url);
  const token = (await api.post('/api/v1/tokens', { name: 'detection-bench' })).json.token as string;
  return {
    dns, redis, spamd, rspamd, downstream, master, scanner, token,
    async close() {
      await scanner.close();
      await master.close();
      await downstream.close();
      await Promise.all([spamd.stop(), rspamd.stop()]);
      await redis.stop();
      await dns.stop();
    },
  };
}

/** The envelope the scanner saw, for the Received line SpamAssassin is sent first (as the analyzer does). */
interface Seen {
  readonly helo: string;
  readonly clientIp: string;
}

/**
 * Send each message over SMTP, `SESSIONS` at a time; `after` runs on each outcome before that
 * session takes the next message. With `askSkipped`, a message Moat did not send to spamd is
 * sent to it straight after, for SpamAssassin alone's figure (not with the throughput measured).
 */
async function replay(stack: Stack, messages: readonly CorpusMessage[], label: string, after?: (m: CorpusMessage, o: Outcome) => Promise<void>, options: { askSkipped?: boolean } = {}): Promise<{ outcomes: Outcome[]; seconds: number; seen: Map<string, Seen> }> {
  const outcomes: Outcome[] = [];
  const seen = new Map<string, Seen>();
  let next = 0;
  const started = performance.now();
  const db = stack.scanner.db;
  const byId = db.prepare('SELECT action, score, reasons, helo, client_ip FROM messages WHERE id = ?');
  // A refused message has no queue id in its reply: its row is the newest refused one from that sender not read yet.
  const claimed = new Set<string>();
  const rejectedRows = db.prepare("SELECT id, mail_from, action, score, reasons, helo, client_ip FROM messages WHERE status = 'rejected' ORDER BY received_at DESC LIMIT 50");
  const rejected = (from: string) => {
    const rows = rejectedRows.all() as (Row & { id: string; mail_from: string })[];
    const row = rows.find((r) => !claimed.has(r.id) && r.mail_from.toLowerCase() === from.toLowerCase()) ?? rows.find((r) => !claimed.has(r.id));
    if (row) claimed.add(row.id);
    return row;
  };
  const session = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      const r = await sendMail(stack.scanner.smtpPort, { from: m.mailFrom, to: ['user@example.test'] }, m.raw);
      const id = /queued as (\S+)/.exec(r.response)?.[1];
      const row = (id ? byId.get(id) : r.code === 550 ? rejected(m.mailFrom) : undefined) as Row | undefined;
      if (!row) throw new Error(`${m.id}: no verdict (${r.code} ${r.response})`);
      const envelope = { helo: row.helo, clientIp: row.client_ip };
      seen.set(m.id, envelope);
      let o = readOutcome(m.id, m.spam, row);
      if (options.askSkipped && o.saSkipped && m.raw.length <= SA_MAX_BYTES) o = { ...o, sa: await askSpamd(stack, m, envelope) };
      outcomes.push(o);
      if (after) await after(m, o);
      if (outcomes.length % 250 === 0) benchLog(`${label}: ${outcomes.length}/${messages.length}`);
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, session));
  return { outcomes, seconds: (performance.now() - started) / 1000, seen };
}

interface Row {
  readonly action: string;
  readonly score: number;
  readonly reasons: string;
  readonly helo: string;
  readonly client_ip: string;
}

/** The scanner's own limit for spamd (`analyzers.spamassassin.maxBytes`' default): a bigger message is not sent by either. */
const SA_MAX_BYTES = 512_000;

/** spamd's answer to one message, with the Received line the analyzer sends first. */
async function askSpamd(stack: Stack, m: CorpusMessage, seen: Seen): Promise<{ score: number; required: number }> {
  const prefix = Buffer.from(`${receivedHeader({ helo: seen.helo, clientIp: seen.clientIp, hostname: 'bench-scanner.test', tls: false, at: Date.now() })}\r\n`, 'latin1');
  const r = await check({ host: stack.spamd.host, port: stack.spamd.port }, { prefix, body: Readable.from([m.raw]), bodyBytes: m.raw.length }, { signal: AbortSignal.timeout(60_000) });
  return { score: r.score, required: r.required };
}

/** Correct one verdict through the master's learn route (`POST /api/v1/learn`): it answers once the scanner has applied it to its engines. */
async function learn(stack: Stack, m: CorpusMessage, asSpam: boolean): Promise<void> {
  const res = await fetch(`${stack.master.url}/api/v1/learn?as=${asSpam ? 'spam' : 'ham'}&source=admin`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'message/rfc822' },
    body: m.raw,
    signal: AbortSignal.timeout(120_000),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`learn ${m.id}: HTTP ${res.status} ${body.slice(0, 300)}`);
}

const ROOT = join(HERE, '..', '..');

/** `moat learn --spam DIR --ham DIR` as an admin runs it (a real process, an API token), timed until every scanner applied it. */
async function moatLearn(stack: Stack, messages: readonly CorpusMessage[]): Promise<number> {
  const dir = tempDir('detection-learn');
  try {
    for (const kind of ['spam', 'ham']) mkdirSync(join(dir.path, kind));
    for (const m of messages) writeFileSync(join(dir.path, m.spam ? 'spam' : 'ham', `${m.id.replace('/', '-')}.eml`), m.raw);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = execFile(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'learn', '--master', stack.master.url, '--spam', join(dir.path, 'spam'), '--ham', join(dir.path, 'ham')], { env: { ...process.env, MOAT_TOKEN: stack.token }, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => {
        if (err) reject(new Error(`moat learn failed: ${err.message}\n${stderr.slice(-2000)}`));
        else {
          benchLog(`moat learn: ${stderr.trim().split('\n').at(-1)}`);
          resolve();
        }
      });
      child.stdin?.end();
    });
    return (performance.now() - started) / 1000;
  } finally {
    dir.cleanup();
  }
}

/** SpamAssassin alone, straight to spamd with spamc's protocol, `SESSIONS` at a time: each answer, and the time taken. */
async function spamassassinAlone(stack: Stack, messages: readonly CorpusMessage[], seen: ReadonlyMap<string, Seen>): Promise<{ answers: Map<string, { score: number; required: number }>; seconds: number }> {
  let next = 0;
  const answers = new Map<string, { score: number; required: number }>();
  const started = performance.now();
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      if (m.raw.length > SA_MAX_BYTES) continue; // not sent by the scanner either
      answers.set(m.id, await askSpamd(stack, m, seen.get(m.id) ?? { helo: 'unknown', clientIp: '127.0.0.1' }));
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, worker));
  return { answers, seconds: (performance.now() - started) / 1000 };
}

/** CPU spent so far, in ms, by each process of the stack (with the children it has reaped: spamd replaces its children): spamd, Rspamd, Redis, and this one (master, scanner, downstream and the SMTP clients). */
function cpuNow(stack: Stack): Record<CpuPart, number> {
  const own = process.cpuUsage();
  return { spamd: treeCpuWithReapedMs(stack.spamd.pid), rspamd: treeCpuWithReapedMs(stack.rspamd.pid), redis: treeCpuWithReapedMs(stack.redis.pid), node: (own.user + own.system) / 1000 };
}
type CpuPart = 'spamd' | 'rspamd' | 'redis' | 'node';
const CPU_PARTS: readonly CpuPart[] = ['spamd', 'rspamd', 'redis', 'node'];
const addCpu = (into: Record<CpuPart, number>, from: Record<CpuPart, number>, to: Record<CpuPart, number>) => {
  for (const k of CPU_PARTS) into[k] += to[k] - from[k];
};
const cpuPerMessage = (c: Record<CpuPart, number>, n: number) => CPU_PARTS.map((k) => `${k} ${(c[k] / n).toFixed(0)}`).join(', ');
const skippedCount = (outcomes: readonly Outcome[]) => outcomes.filter((o) => o.saSkipped).length;

function phase(name: string, outcomes: readonly Outcome[]): PhaseResult {
  if (opts.verdicts) for (const o of outcomes) appendFileSync(opts.verdicts, `${JSON.stringify({ model: DETECTION_MODEL.version, phase: name, moatFlags: moatFlags(o), ...o })}\n`);
  return { phase: name, moat: rates(outcomes, moatFlags), spamassassin: rates(outcomes, saFlags), rspamd: rates(outcomes, rspamdFlags) };
}

async function main(): Promise<void> {
  const data = ensureCorpus(opts.cache!, benchLog);
  const all = loadCorpus(data).filter((_, i) => i % SAMPLE === 0);
  const calibration = all.filter((m) => m.half === 'calibration');
  const evaluation = all.filter((m) => m.half === 'evaluation');
  const count = (ms: readonly CorpusMessage[]) => `${ms.filter((m) => m.spam).length} spam + ${ms.filter((m) => !m.spam).length} ham`;
  benchLog(`corpus: calibration half ${count(calibration)}, evaluation half ${count(evaluation)}`);

  if (opts.calibrate) {
    // Five folds: each teaches four fifths of the calibration half (about 213 spam: both engines'
    // Bayes vote only after 200 of each class) and judges the fifth, before and after.
    writeFileSync(opts.calibrate, '');
    const order = shuffled(calibration, SEED);
    const FOLDS = 5;
    for (let k = 0; k < FOLDS; k++) {
      const judge = order.filter((_, i) => i % FOLDS === k);
      const teach = order.filter((_, i) => i % FOLDS !== k);
      const stack = await startStack({ calibrate: true });
      try {
        const untrained = await replay(stack, judge, `calibrate fold ${k + 1}/${FOLDS} untrained`);
        await moatLearn(stack, teach);
        const trained = await replay(stack, judge, `calibrate fold ${k + 1}/${FOLDS} trained`);
        for (const [state, run] of [['untrained', untrained], ['trained', trained]] as const) {
          for (const o of run.outcomes) appendFileSync(opts.calibrate, `${JSON.stringify({ model: DETECTION_MODEL.version, fold: k + 1, state, ...o })}\n`);
        }
      } finally {
        await stack.close();
      }
    }
    benchLog(`calibration signals written to ${opts.calibrate}`);
  }

  if (opts.verdicts) writeFileSync(opts.verdicts, '');
  const phases: PhaseResult[] = [];
  let learnSeconds = 0;
  let saAlonePerSec = 0;
  let moatPerSec = 0;
  let corrected = 0;
  const skipped: string[] = [];
  const cpu = { moat: { spamd: 0, rspamd: 0, redis: 0, node: 0 }, sa: { spamd: 0, rspamd: 0, redis: 0, node: 0 } };
  const stack = await startStack();
  try {
    const untrained = await replay(stack, evaluation, 'untrained', undefined, { askSkipped: true });
    phases.push(phase('Before learning', untrained.outcomes));
    skipped.push(`before learning ${skippedCount(untrained.outcomes)}`);
    learnSeconds = await moatLearn(stack, calibration);
    // Interleaved: each chunk through Moat, then the same messages straight to spamd (SpamAssassin
    // alone's figures and msg/s), so a load that comes and goes on the machine meets both alike.
    const CHUNK = 100;
    const trainedOutcomes: Outcome[] = [];
    let moatSeconds = 0;
    let saSeconds = 0;
    for (let i = 0; i < evaluation.length; i += CHUNK) {
      const chunk = evaluation.slice(i, i + CHUNK);
      let before = cpuNow(stack);
      const moat = await replay(stack, chunk, `trained ${i}`);
      addCpu(cpu.moat, before, cpuNow(stack));
      before = cpuNow(stack);
      const alone = await spamassassinAlone(stack, chunk, moat.seen);
      addCpu(cpu.sa, before, cpuNow(stack));
      moatSeconds += moat.seconds;
      saSeconds += alone.seconds;
      for (const o of moat.outcomes) {
        const sa = alone.answers.get(o.id);
        trainedOutcomes.push(sa ? { ...o, sa } : o);
      }
    }
    phases.push(phase('After moat learn', trainedOutcomes));
    skipped.push(`after learning ${skippedCount(trainedOutcomes)}`);
    moatPerSec = evaluation.length / moatSeconds;
    saAlonePerSec = evaluation.length / saSeconds;
    if (!skip.has('online')) {
      const online = await replay(stack, shuffled(evaluation, SEED), 'online', async (m, o) => {
        if (moatFlags(o) !== m.spam) {
          corrected++;
          await learn(stack, m, m.spam);
        }
      }, { askSkipped: true });
      benchLog(`online: ${corrected} verdicts corrected`);
      phases.push(phase('Online, each wrong verdict corrected', online.outcomes));
      skipped.push(`online ${skippedCount(online.outcomes)}`);
    }
  } finally {
    await stack.close();
  }

  const report = renderDetectionReport({
    date: new Date(),
    cores: cpus().length,
    command: `pnpm bench:detection${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    corpus: `Corpus: the SpamAssassin public corpus, groups \`spam\` and \`easy_ham\` only. Every figure is on the evaluation half, ${count(evaluation)}, never trained or tuned on; the calibration half, ${count(calibration)}, is what \`moat learn\` teaches (${learnSeconds.toFixed(0)} s, until the scanner had applied it) and what the detection model was calibrated on.`,
    phases,
    throughput: { moat: moatPerSec, spamassassin: saAlonePerSec, sessions: SESSIONS },
    notes: [
      `Throughput: Moat is the full pipeline (SMTP, Rspamd then SpamAssassin unless Rspamd settled the message, the verdict, the queue on disk, delivery) after learning, over every evaluation message; SpamAssassin alone is spamc's protocol straight to the same spamd (with the Received line the scanner sends), over the same messages, ${SESSIONS} at a time; the two interleaved in chunks of 100. Online: ${corrected} wrong verdicts were corrected through the learn route (POST /api/v1/learn), each answered once the scanner had applied it.`,
      `SpamAssassin skipped, settled by Rspamd (of ${evaluation.length} messages each): ${skipped.join(', ')}. For those, SpamAssassin alone's figure is spamd's own answer asked right after.`,
      `CPU per message after learning, ms (user + system): Moat ${cpuPerMessage(cpu.moat, evaluation.length)}; SpamAssassin alone ${cpuPerMessage(cpu.sa, evaluation.length)} ("node" is this process: master, scanner, downstream and the SMTP or spamc clients).`,
    ],
  });
  process.stdout.write(report);
  mkdirSync(join(HERE, 'results'), { recursive: true });
  writeFileSync(opts.out!, report);
}

await main();
