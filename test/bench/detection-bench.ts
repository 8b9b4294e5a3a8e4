/**
 * `pnpm bench:detection`: how much spam Moat catches and how much good mail it flags, on real
 * mail, beside the engines it runs, measured in one run.
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
 *   trained    after the calibration half is learned (as `moat learn --spam --ham` would)
 *   online     continuing from there, each wrong verdict is corrected (learned) right after
 *              it is given, as users correct mistakes; every message is judged before its
 *              own correction
 * and, with `--calibrate FILE`, the calibration half judged twice in two folds (learn one
 * quarter, judge the other, on fresh engines), each message's signals written as JSON lines
 * for test/bench/calibrate-detection.ts. The evaluation half plays no part in calibration.
 *
 * Prints a markdown table and writes it to test/bench/results/detection.md.
 */
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { demoRules } from '@moat/rules';
import { startDnsStub, startRedis, startRspamd, startSpamd, type DnsStub, type Redis, type Rspamd, type Spamd } from '@moat/engines';
import { check, tell } from '../../apps/scanner/src/analyzers/spamassassin/spamc-client.ts';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { sendMail } from '../helpers/smtp-client.ts';
import { benchLog } from './lib/bench-options.ts';
import { ensureCorpus, loadCorpus, shuffled, type CorpusMessage } from './lib/spam-corpus.ts';
import { moatFlags, rates, readOutcome, rspamdFlags, saFlags, type Outcome, type Rates } from './lib/detection-outcome.ts';

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
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write('usage: pnpm bench:detection [--sessions 4] [--sample 1] [--seed 17] [--out FILE] [--calibrate SIGNALS.jsonl] [--skip-phases online]\n  --sample N: every Nth message only (a quick look: 4 takes a quarter of the time)\n');
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
  readonly node: ScannerUnderTest;
  close(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const dns = await startDnsStub();
  const redis = await startRedis();
  const [spamd, rspamd] = await Promise.all([startSpamd({ allowTell: true }), startRspamd({ redis: redis.address, dnsServer: dns.address })]);
  const downstream = await startDownstream();
  const rules = { ...demoRules(), limits: { maxMessageBytes: 10 * 1024 * 1024, maxRecipients: 50 } };
  const node = await startTestScanner(downstream.port, {
    rules,
    overrides: { analyzers: { spamassassin: { host: spamd.host, port: spamd.port }, rspamd: { url: rspamd.url } } },
  });
  return {
    dns, redis, spamd, rspamd, downstream, node,
    async close() {
      await node.close();
      await downstream.close();
      await Promise.all([spamd.stop(), rspamd.stop()]);
      await redis.stop();
      await dns.stop();
    },
  };
}

/** Send each message over SMTP, `SESSIONS` at a time; `after` runs on each outcome before that session takes the next message. */
async function replay(stack: Stack, messages: readonly CorpusMessage[], label: string, after?: (m: CorpusMessage, o: Outcome) => Promise<void>): Promise<{ outcomes: Outcome[]; seconds: number }> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const started = performance.now();
  const db = stack.node.scanner.db;
  const byId = db.prepare('SELECT action, score, reasons FROM messages WHERE id = ?');
  const rejected = db.prepare("SELECT action, score, reasons FROM messages WHERE status = 'rejected' AND mail_from = ? ORDER BY received_at DESC LIMIT 1");
  const session = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      const r = await sendMail(stack.node.port, { from: m.mailFrom, to: ['user@example.test'] }, m.raw);
      const id = /queued as (\S+)/.exec(r.response)?.[1];
      const row = (id ? byId.get(id) : r.code === 550 ? rejected.get(m.mailFrom) : undefined) as { action: string; score: number; reasons: string } | undefined;
      if (!row) throw new Error(`${m.id}: no verdict (${r.code} ${r.response})`);
      const o = readOutcome(m.id, m.spam, row);
      outcomes.push(o);
      if (after) await after(m, o);
      if (outcomes.length % 250 === 0) benchLog(`${label}: ${outcomes.length}/${messages.length}`);
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, session));
  return { outcomes, seconds: (performance.now() - started) / 1000 };
}

/** Teach one message to the scanner's own engines, as a learn event applies it on a scanner. */
async function learn(stack: Stack, m: CorpusMessage, asSpam: boolean): Promise<void> {
  const signal = AbortSignal.timeout(60_000);
  await tell({ host: stack.spamd.host, port: stack.spamd.port }, { body: Readable.from([m.raw]), bodyBytes: m.raw.length }, { messageClass: asSpam ? 'spam' : 'ham', action: 'set' }, { signal });
  const res = await fetch(`${stack.rspamd.controllerUrl}/${asSpam ? 'learnspam' : 'learnham'}`, { method: 'POST', body: m.raw, signal });
  // 208: already learned; anything else but 200 is a failure to report.
  if (res.status !== 200 && res.status !== 208) throw new Error(`rspamd learn ${m.id}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  await res.arrayBuffer().catch(() => undefined);
}

async function learnAll(stack: Stack, messages: readonly CorpusMessage[], label: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      await learn(stack, m, m.spam);
      if (++done % 250 === 0) benchLog(`${label}: learned ${done}/${messages.length}`);
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, worker));
  return (performance.now() - started) / 1000;
}

/** SpamAssassin alone, straight to spamd with spamc's protocol, `SESSIONS` at a time: its msg/s. */
async function spamassassinAlone(stack: Stack, messages: readonly CorpusMessage[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      await check({ host: stack.spamd.host, port: stack.spamd.port }, { body: Readable.from([m.raw]), bodyBytes: m.raw.length }, { signal: AbortSignal.timeout(60_000) });
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, worker));
  return messages.length / ((performance.now() - started) / 1000);
}

interface Row {
  readonly phase: string;
  readonly system: string;
  readonly rates: Rates;
  readonly msgPerSec?: number;
}

function rowsOf(phase: string, outcomes: readonly Outcome[], msgPerSec?: number): Row[] {
  return [
    { phase, system: 'SpamAssassin alone (its score ≥ its required 5)', rates: rates(outcomes, saFlags) },
    { phase, system: 'Rspamd alone (its own actions)', rates: rates(outcomes, rspamdFlags) },
    { phase, system: 'Moat (one verdict from both)', rates: rates(outcomes, moatFlags), ...(msgPerSec !== undefined ? { msgPerSec } : {}) },
  ];
}

const pct = (n: number) => `${n.toFixed(1)}%`;

async function main(): Promise<void> {
  const data = ensureCorpus(opts.cache!, benchLog);
  const all = loadCorpus(data).filter((_, i) => i % SAMPLE === 0);
  const calibration = all.filter((m) => m.half === 'calibration');
  const evaluation = all.filter((m) => m.half === 'evaluation');
  const count = (ms: readonly CorpusMessage[]) => `${ms.filter((m) => m.spam).length} spam + ${ms.filter((m) => !m.spam).length} ham`;
  benchLog(`corpus: calibration half ${count(calibration)}, evaluation half ${count(evaluation)}`);

  if (opts.calibrate) {
    writeFileSync(opts.calibrate, '');
    const order = shuffled(calibration, SEED);
    const even = order.filter((_, i) => i % 2 === 0);
    const odd = order.filter((_, i) => i % 2 === 1);
    const folds: [CorpusMessage[], CorpusMessage[]][] = [[even, odd], [odd, even]];
    for (const [k, [teach, judge]] of folds.entries()) {
      const stack = await startStack();
      try {
        const untrained = await replay(stack, judge, `calibrate fold ${k + 1} untrained`);
        await learnAll(stack, teach, `calibrate fold ${k + 1}`);
        const trained = await replay(stack, judge, `calibrate fold ${k + 1} trained`);
        for (const [state, run] of [['untrained', untrained], ['trained', trained]] as const) {
          for (const o of run.outcomes) appendFileSync(opts.calibrate, `${JSON.stringify({ fold: k + 1, state, ...o })}\n`);
        }
      } finally {
        await stack.close();
      }
    }
    benchLog(`calibration signals written to ${opts.calibrate}`);
  }

  const rows: Row[] = [];
  let learnSeconds = 0;
  let saAlonePerSec = 0;
  const stack = await startStack();
  try {
    const untrained = await replay(stack, evaluation, 'untrained');
    rows.push(...rowsOf('before learning', untrained.outcomes, untrained.outcomes.length / untrained.seconds));
    learnSeconds = await learnAll(stack, calibration, 'moat learn (calibration half)');
    const trained = await replay(stack, evaluation, 'trained');
    rows.push(...rowsOf('after learning the calibration half', trained.outcomes, trained.outcomes.length / trained.seconds));
    const sample = evaluation.filter((_, i) => i % 4 === 0);
    saAlonePerSec = await spamassassinAlone(stack, sample);
    if (!skip.has('online')) {
      let corrected = 0;
      const online = await replay(stack, shuffled(evaluation, SEED), 'online', async (m, o) => {
        if (moatFlags(o) !== m.spam) {
          corrected++;
          await learn(stack, m, m.spam);
        }
      });
      benchLog(`online: ${corrected} verdicts corrected`);
      rows.push(...rowsOf('online, each wrong verdict corrected', online.outcomes, online.outcomes.length / online.seconds));
    }
  } finally {
    await stack.close();
  }

  const table = [
    '| phase | system | spam caught | ham flagged | msg/s (4 sessions) |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.phase} | ${r.system} | ${pct(r.rates.caught)} | ${pct(r.rates.falsePositive)} | ${r.msgPerSec !== undefined ? r.msgPerSec.toFixed(1) : ''} |`),
    `| after learning the calibration half | SpamAssassin alone, spamc protocol straight to spamd (every 4th message) | | | ${saAlonePerSec.toFixed(1)} |`,
  ];
  const report = [
    '# Detection benchmark',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores with \`pnpm bench:detection${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\`.`,
    `Corpus: the SpamAssassin public corpus, groups \`spam\` and \`easy_ham\` only; evaluation half ${count(evaluation)} (never trained or tuned on), calibration half ${count(calibration)} (learned in the second phase; learning took ${learnSeconds.toFixed(0)} s).`,
    'Network tests off for every engine (no DNS to the Internet). "Flagged" is anything but delivery as it came: Moat tags, quarantines or rejects; SpamAssassin scores at least its required score; Rspamd asks for any action but `no action` and `greylist`.',
    '',
    ...table,
    '',
  ].join('\n');
  process.stdout.write(report);
  mkdirSync(join(HERE, 'results'), { recursive: true });
  writeFileSync(opts.out!, report);
}

await main();
