import { DETECTION_MODEL } from '@moat/rules';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spamassassinAnalyzer, strongest, type SpamassassinSettings } from './spamassassin-analyzer.ts';

// What the analyzer makes of spamd's answers; the real spamd is in
// test/e2e/scanner-analyzers-spamassassin.integration.test.ts.

const REPORT = ' pts rule name              description\r\n---- ---------------------- ----------\r\n 0.6 MISSING_MID            Missing Message-Id: header\r\n-0.0 NO_RECEIVED            Informational\r\n 2.7 MISSING_DATE           Missing Date: header\r\n-1.9 BAYES_00               BODY: Bayes\r\n';
let server: Server;
let port: number;
const requests: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'moat-sa-unit-'));
const file = join(dir, 'm.eml');
const msg = 'From: a@origin.test\r\nSubject: hi\r\n\r\nhello\r\n';
writeFileSync(file, msg);
const input = { clientIp: '203.0.113.9', helo: 'mx.origin.test', mailFrom: 'a@origin.test', rcptTo: ['u@example.test'], spoolFile: file, size: Buffer.byteLength(msg) };
const settings = (over: Partial<SpamassassinSettings> = {}): SpamassassinSettings => ({ address: { host: '127.0.0.1', port }, timeoutMs: 2000, onUnavailable: 'pass', scoreWeight: 0.5, maxBytes: 512_000, hostname: 'scanner.test', ...over });

before(async () => {
  server = createServer((socket) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const headEnd = buf.indexOf('\r\n\r\n');
      const length = Number(/Content-length: (\d+)/.exec(buf)?.[1] ?? -1);
      if (headEnd < 0 || buf.length < headEnd + 4 + length) return;
      requests.push(buf);
      socket.end(`SPAMD/1.1 0 EX_OK\r\nContent-length: ${REPORT.length}\r\nSpam: True ; 7.3 / 5.0\r\n\r\n${REPORT}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('spamassassinAnalyzer', () => {
  it('sends our Received line naming the client, then the message; its Bayes vote and its other rules are two signals, each times the weight', async () => {
    const f = await spamassassinAnalyzer(settings()).run(input, AbortSignal.timeout(2000));
    assert.deepEqual(f, {
      extraScores: [
        { id: 'spamassassin', score: 4.6, detail: `score 7.3/5 ×0.5 (model ${DETECTION_MODEL.version}): MISSING_DATE(2.7) MISSING_MID(0.6)` },
        { id: 'spamassassin.bayes', score: -0.95, detail: '-1.9 points ×0.5: BAYES_00(-1.9)' },
      ],
      headers: ['X-Moat-Spam-Scan: spamassassin score=7.3 required=5'],
    });
    const sent = requests.at(-1)!;
    const body = sent.slice(sent.indexOf('\r\n\r\n') + 4);
    assert.match(body, /^Received: from mx\.origin\.test \(\[203\.0\.113\.9\]\)\r\n\tby scanner\.test \(Moat\) with ESMTP;\r\n\t\w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT\r\nFrom: a@origin\.test\r\n/);
    assert.ok(body.endsWith(msg));
    assert.equal(Number(/Content-length: (\d+)/.exec(sent)![1]), Buffer.byteLength(body));
  });
  it('a message over maxBytes is not sent: spamassassin.skipped, score 0', async () => {
    const before = requests.length;
    const f = await spamassassinAnalyzer(settings({ maxBytes: 10 })).run(input, AbortSignal.timeout(2000));
    assert.deepEqual(f, { extraScores: [{ id: 'spamassassin.skipped', score: 0, detail: `message of ${input.size} bytes is over maxBytes 10` }] });
    assert.equal(requests.length, before);
  });
  it('states its fallback: pass with X-Moat-Spam-Scan: unavailable, or temp-fail', () => {
    assert.deepEqual(spamassassinAnalyzer(settings()).fallback, { policy: 'pass', headers: ['X-Moat-Spam-Scan: unavailable'] });
    assert.equal(spamassassinAnalyzer(settings({ onUnavailable: 'temp-fail' })).fallback.policy, 'temp-fail');
  });
});

describe('strongest', () => {
  const cases: [string, { name: string; score: number }[], number, string[]][] = [
    ['by weight, either sign', [{ name: 'A', score: 0.1 }, { name: 'B', score: -3 }, { name: 'C', score: 2 }], 8, ['B(-3)', 'C(2)', 'A(0.1)']],
    ['zero scores left out when some weigh', [{ name: 'Z', score: 0 }, { name: 'A', score: 1 }], 8, ['A(1)']],
    ['the first ones when none weighs', [{ name: 'Z', score: 0 }, { name: 'Y', score: 0 }], 1, ['Z(0)']],
    ['at most max', Array.from({ length: 12 }, (_, i) => ({ name: `R${i}`, score: i + 1 })), 3, ['R11(12)', 'R10(11)', 'R9(10)']],
    ['none', [], 8, []],
  ];
  for (const [name, rules, max, expected] of cases) it(name, () => assert.deepEqual(strongest(rules, max), expected));
});
