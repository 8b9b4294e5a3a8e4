/**
 * Fuzz target `smtp`: a real scanner on loopback (SMTP ingress, rules, analysis, spool, relay
 * to an in-test downstream). Each case is one connection: a burst of random command lines
 * (real verbs with hostile arguments, CR/LF/NUL/8-bit bytes, bare LF/CR line ends, over-long
 * lines) and DATA bodies, written pipelined in random chunks, then `.` and QUIT. Every reply
 * must be a well-formed SMTP reply (3-digit code; every 4xx/5xx with an enhanced status code
 * of the same class, as smtp-server gives with hideENHANCEDSTATUSCODES off), the connection
 * must end, nothing may escape as an uncaught exception and the scanner must log no error.
 * Afterwards the scanner still delivers a normal message.
 *
 * Cases run through the runner's pool (MOAT_FUZZ_CONCURRENCY sessions at once, default
 * SESSION_SLOTS; a burst takes one slot per connection), since smtp-server holds every greeting
 * 100 ms and one case at a time mostly measures that timer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { validateDocument } from '@moat/config';
import { ScannerConfigSchema, startScanner, type Scanner } from '@moat/scanner';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, testScannerConfig } from '../helpers/scanner-harness.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';
import { nastyString } from './arbitraries.ts';
import { fuzz, fuzzConcurrency, MAX_CONCURRENCY } from './fuzz-runner.ts';
import { watchLog } from './log-watch.ts';

const tmp = tempDir('fuzz-smtp');
const watch = watchLog({ role: 'scanner' });
let downstream: Downstream;
let scanner: Scanner;
/** Sessions at once by default: the machine's cores are shared; 24 keeps it busy without starving others. */
const SESSION_SLOTS = 24;

before(async () => {
  downstream = await startDownstream();
  writeFileSync(join(tmp.path, 'rules.yaml'), stringify(BASE_RULES));
  const raw = testScannerConfig(tmp.path, downstream.port, {
    // Every session comes from 127.0.0.1, up to MOAT_FUZZ_CONCURRENCY (≤ MAX_CONCURRENCY) at once
    // plus the check message, thousands a second: lift the per-address rate and concurrency
    // limits and the node's client limit above that (they are tested elsewhere), so a refusal
    // by a limit never fails a case.
    smtp: {
      listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test',
      connectionRate: { count: 1_000_000, windowSeconds: 1 },
      maxConnectionsPerIp: 4 * MAX_CONCURRENCY, maxClients: 4 * MAX_CONCURRENCY,
    },
  });
  scanner = await startScanner(validateDocument(ScannerConfigSchema, raw, 'fuzz scanner'), { log: watch.log });
});
after(async () => {
  await scanner.close();
  await downstream.close();
  tmp.cleanup();
});

// ── generators (strings are bytes: latin1) ───────────────────────────────────
const address = fc.oneof(
  fc.constantFrom('<user@example.test>', '<>', '<x@blocked.example>', '<USER@EXAMPLE.TEST>', '<user@elsewhere.test>', '<@a,@b:user@example.test>', '<user@[127.0.0.1]>', '<"q u"@example.test>', 'user@example.test', '<user@example.test', '<<>>', '<\u0000@example.test>', '<\u00e9@example.test>'),
  nastyString.map((s) => `<${s}@example.test>`),
  nastyString,
);
const param = fc.constantFrom('', ' SIZE=100', ' SIZE=99999999999', ' SIZE=-1', ' BODY=8BITMIME', ' BODY=BINARYMIME', ' SMTPUTF8', ' RET=HDRS', ' NOTIFY=NEVER', ' X=\u0000', ' AUTH=<>', ' =');
const binaryLine = fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));
const command = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('EHLO', 'HELO', 'ehlo', 'LHLO'), fc.oneof(fc.constantFrom('client.test', '', '[127.0.0.1]', '[IPv6:::1]', '-', 'a'.repeat(300)), nastyString)).map(([v, a]) => `${v} ${a}`) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('MAIL FROM:', 'mail from:', 'MAIL FROM: ', 'MAIL FROM'), address, param).map(([v, a, p]) => `${v}${a}${p}`) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('RCPT TO:', 'rcpt to:', 'RCPT TO: ', 'RCPT'), address, param).map(([v, a, p]) => `${v}${a}${p}`) },
  { weight: 3, arbitrary: fc.constantFrom('DATA', 'data', 'DATA x', 'RSET', 'NOOP', 'NOOP x', 'VRFY user', 'EXPN list', 'HELP', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN dXNlcg==', 'BDAT 10 LAST', 'XCLIENT ADDR=1.2.3.4', 'XFORWARD NAME=x', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2', 'TURN', 'ETRN x', '', ' ', 'QUIT') },
  { weight: 2, arbitrary: binaryLine },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('MAIL FROM:<', 'EHLO ', 'NOOP ', 'X'), fc.constantFrom(513, 1001, 4097, 70_000)).map(([v, n]) => v + 'a'.repeat(n)) },
);
const bodyLine = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 2, arbitrary: binaryLine },
  { weight: 2, arbitrary: fc.constantFrom('Subject: QUARANTINE-ME', 'Subject: TAG-ME', 'From: a@b.test', 'Content-Type: multipart/mixed; boundary=b', '--b', '--b--', '.', '..', '.hidden', '. ', 'MAIL FROM:<x@y>', '\u0000', '=?utf-8?B?####?=', '') },
  { weight: 1, arbitrary: fc.constantFrom(1001, 10_000, 100_000).map((n) => 'b'.repeat(n)) },
);
const dataBlock = fc.tuple(fc.constantFrom('DATA', 'DATA', 'data'), fc.array(bodyLine, { maxLength: 12 }), fc.constantFrom('.', '.', 'x')).map(([d, lines, end]) => [d, ...lines, end]);
const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n', '');
const session = fc.record({
  lines: fc.array(fc.oneof({ weight: 4, arbitrary: command.map((c) => [c]) }, { weight: 1, arbitrary: dataBlock }), { minLength: 1, maxLength: 8 }).map((groups) => groups.flat()),
  eols: fc.array(eol, { minLength: 1, maxLength: 8 }),
  /** Where the bytes are cut into separate writes (fractions of the length). */
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
  /** A plain transaction first, so the random part starts in every state. */
  prefix: fc.constantFrom('', 'EHLO fuzz.test\r\n', 'EHLO fuzz.test\r\nMAIL FROM:<a@origin.test>\r\n', 'EHLO fuzz.test\r\nMAIL FROM:<a@origin.test>\r\nRCPT TO:<user@example.test>\r\n'),
});
type Session = typeof session extends fc.Arbitrary<infer S> ? S : never;

function bytesOf(s: Session): Buffer {
  const body = s.lines.map((line, i) => line + s.eols[i % s.eols.length]).join('');
  // Finish any DATA in progress, then leave.
  return Buffer.from(`${s.prefix}${body}\r\n.\r\nQUIT\r\n`, 'latin1');
}

/** Write `bytes` in pieces, collect everything the server says until it closes. */
function converse(port: number, bytes: Buffer, cuts: number[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the scanner did not end the session after QUIT; it said: ${Buffer.concat(chunks).toString('latin1').slice(-500)}`));
    }, 20_000);
    let greeted = false;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (greeted) return;
      greeted = true;
      // A client that talks before the greeting only ever gets `421 You talk too soon`
      // (smtp-server's early-talker guard): wait for it, as real clients do.
      const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
      let from = 0;
      for (const p of [...points, bytes.length]) {
        if (p > from) socket.write(bytes.subarray(from, p));
        from = p;
      }
    });
    socket.on('error', () => undefined); // a reset after the server's close is fine
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

const REPLY = /^(\d{3})([ -])(.*)$/;
const ENHANCED = /^([245])\.\d{1,3}\.\d{1,3}(?: |$)/;
const codes = new Map<string, number>();
/**
 * smtp-server's own replies that carry no enhanced status code even with
 * hideENHANCEDSTATUSCODES off (RFC 2034 wants one on every 4xx/5xx after EHLO); they come from
 * the library, not from Moat, and are listed in docs/fuzzing.md. Anything else without one fails.
 */
const SMTP_SERVER_BARE: RegExp[] = [
  // Replies in the HELO/EHLO/LHLO context never get one (smtp-server's
  // SKIPPED_COMMANDS_FOR_ENHANCED_STATUS_CODES), even `LHLO` refused as unknown by an SMTP server.
  /^500 Error: command not recognized$/,
  /^421 Error: too many unrecognized commands$/,
  // Sent with the context `false` (no code on purpose).
  /^501 Error: syntax: EHLO hostname$/,
  /^501 Error: Syntax: HELO hostname$/,
  /^501 Error: Bad hostname syntax$/,
  /^421 \S+ Too many connected clients, try again in a moment$/,
];
const bare = new Map<string, number>();
const closings = new Map<string, number>();

/** Descriptors the relay's connection pool, SQLite and the log may add after warm-up; a leak per session or retry passes it in seconds. */
const DESCRIPTOR_SLACK = 64;

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Checks one session's transcript; returns its number of reply lines. */
function checkTranscript(text: string): number {
  assert.ok(text === '' || text.endsWith('\r\n'), `a reply line without CRLF at the end: ${JSON.stringify(text.slice(-200))}`);
  const lines = text.split('\r\n').slice(0, -1);
  assert.ok(lines.length > 0, 'no greeting');
  assert.match(lines[0]!, /^220[ -]/, 'the greeting');
  for (const line of lines) {
    const m = REPLY.exec(line);
    assert.ok(m, `not an SMTP reply line: ${JSON.stringify(line.slice(0, 200))}`);
    const [, code, sep, rest] = m;
    const klass = code![0]!;
    assert.ok('2345'.includes(klass), `reply code ${code}`);
    if (sep === ' ') codes.set(code!, (codes.get(code!) ?? 0) + 1);
    if (code === '421') closings.set(rest!.slice(0, 60), (closings.get(rest!.slice(0, 60)) ?? 0) + 1);
    if (klass === '4' || klass === '5') {
      const e = ENHANCED.exec(rest!);
      if (!e) {
        const known = SMTP_SERVER_BARE.find((r) => r.test(line));
        assert.ok(known, `a ${code} without an enhanced status code: ${JSON.stringify(line.slice(0, 200))}`);
        bare.set(known.source, (bare.get(known.source) ?? 0) + 1);
        continue;
      }
      assert.equal(e[1], klass, `enhanced status class differs from the reply code: ${line.slice(0, 200)}`);
    }
  }
  return lines.length;
}

test('fuzz smtp: well-formed replies to anything, the scanner stays up and delivers', async () => {
  let sessions = 0;
  let replies = 0;
  let peak = 0;
  let open = 0;
  const slots = fuzzConcurrency(SESSION_SLOTS, 'smtp');
  const descriptorsBefore = openDescriptors();
  await fuzz({
    name: 'smtp',
    // CI: ~1,300 connections in about the time 60 cases took one at a time.
    defaultRuns: 200,
    warmup: 40,
    // A case is a burst of 1–16 connections opened at once (simultaneous sessions are part of
    // the input); the pool runs several cases side by side, one slot per connection.
    arbitrary: fc.array(session, { minLength: 1, maxLength: 16 }),
    parallel: { defaultSlots: SESSION_SLOTS, weight: (burst) => burst.length },
    async property(burst) {
      open += burst.length;
      peak = Math.max(peak, open);
      // Each case takes the error lines logged since the last check, whether it passed or failed,
      // so they fail this case only and are not carried into the replay (with several sessions at
      // once, whichever burst checks first takes them; the replay alone then tells).
      let logged: Record<string, unknown>[];
      try {
        let transcripts: string[];
        try {
          transcripts = await Promise.all(burst.map((s) => converse(scanner.smtpPort, bytesOf(s), s.cuts)));
        } finally {
          open -= burst.length;
        }
        for (const t of transcripts) replies += checkTranscript(t);
      } finally {
        logged = watch.errors.splice(0);
      }
      assert.deepEqual(logged, [], `the scanner logged an error: ${JSON.stringify(logged).slice(0, 1500)}`);
      sessions += burst.length;
      if (downstream.received.length > 500) downstream.received.length = 0; // what was relayed is not the scanner's memory
    },
    settle: async () => {
      await new Promise((r) => setTimeout(r, 200)); // let the relay drain what was accepted
      downstream.received.length = 0;
    },
  });
  console.log(`smtp: ${sessions} connections, ${replies} reply lines, ${slots} session slots (peak ${peak} sessions at once)`);
  console.log(`smtp: smtp-server replies without an enhanced code ${JSON.stringify(Object.fromEntries(bare))}`);
  console.log(`smtp: 421 replies ${JSON.stringify(Object.fromEntries(closings))}`);
  console.log(`smtp: final reply codes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
  // Still up, and still doing its job: a normal message is accepted and delivered.
  const before = downstream.received.length;
  const result = await sendMail(scanner.smtpPort, { from: 'sender@origin.test', to: ['user@example.test'] }, message({ subject: 'after the fuzz' }));
  assert.match(result.response, /^250 /);
  await downstream.waitFor(before + 1);
  assert.ok(downstream.received.some((m) => m.raw.toString('latin1').includes('after the fuzz')));
  // Everything it accepted leaves the queue (the downstream takes all; a bounce becomes a DSN
  // the downstream takes too): a queue that never drains is mail retried for ever.
  const queued = () => (scanner.db.prepare('SELECT count(*) AS n FROM queue').get() as { n: number }).n;
  await waitUntil(() => queued() === 0, 'the queue drained', 60_000, 200);
  // And nothing holds descriptors per session or per message (the relay did, per retry).
  const descriptorsAfter = openDescriptors();
  console.log(`smtp: open descriptors ${descriptorsBefore} before, ${descriptorsAfter} after`);
  assert.ok(descriptorsAfter <= descriptorsBefore + DESCRIPTOR_SLACK, `open descriptors grew from ${descriptorsBefore} to ${descriptorsAfter}`);
  assert.deepEqual(watch.errors, []);
});
