import { DETECTION_MODEL } from '@moat/rules';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCheckV2, rspamdAnalyzer, type RspamdSettings } from './rspamd-analyzer.ts';

/**
 * A stand-in for Rspamd's /checkv2 (the real one is tested in
 * test/e2e/scanner-analyzers-rspamd.integration.test.ts): answers what `reply` says and
 * records what it was sent.
 */
let server: Server;
let url: string;
let reply: (body: string) => { status: number; body: string; delayMs?: number };
const seen: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
const dir = mkdtempSync(join(tmpdir(), 'moat-rspamd-unit-'));
const file = join(dir, 'm.eml');
const msg = 'From: a@origin.test\r\nSubject: hi\r\n\r\nhello\r\n';
writeFileSync(file, msg);
const input = { clientIp: '203.0.113.9', helo: 'mx.origin.test', mailFrom: 'a@origin.test', rcptTo: ['u@example.test', 'v@example.test'], spoolFile: file, size: Buffer.byteLength(msg) };
const settings = (over: Partial<RspamdSettings> = {}): RspamdSettings => ({ url, timeoutMs: 2000, onUnavailable: 'pass', scoreWeight: 1, actions: { reject: 'reject' }, maxBytes: 1_000_000, ...over });

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const r = reply(body);
      setTimeout(() => res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body), r.delayMs ?? 0).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const answer = (o: unknown) => () => ({ status: 200, body: JSON.stringify(o) });

describe('rspamdAnalyzer against a stand-in /checkv2 server', () => {
  it('streams the message with the envelope as headers; the weighted score and the strongest symbols become extra score `rspamd`', async () => {
    reply = answer({ score: 9.5, required_score: 15, action: 'add header', symbols: { A: { name: 'A', score: 0.5 }, B: { name: 'B', score: 6 }, Z: { name: 'Z', score: 0 }, BAYES_SPAM: { name: 'BAYES_SPAM', score: 3 } } });
    const f = await rspamdAnalyzer(settings({ scoreWeight: 2 })).run(input, new AbortController().signal);
    const s = seen.at(-1)!;
    assert.equal(s.path, '/checkv2');
    assert.equal(s.body, msg);
    assert.equal(s.headers['ip'], '203.0.113.9');
    assert.equal(s.headers['helo'], 'mx.origin.test');
    assert.equal(s.headers['from'], 'a@origin.test');
    assert.equal(s.headers['rcpt'], 'u@example.test, v@example.test'); // node joins repeated headers
    // Its Bayes vote is a signal of its own (the detection model weighs it apart); the admin's scoreWeight applies to both.
    assert.deepEqual(f.extraScores, [
      { id: 'rspamd', score: 13, detail: `add header, score 9.5/15 ×2 (model ${DETECTION_MODEL.version}): B(6) A(0.5)`, action: undefined },
      { id: 'rspamd.bayes', score: 6, detail: '3 points ×2: BAYES_SPAM(3)' },
    ]);
    assert.deepEqual(f.headers, ['X-Moat-Spam-Scan: rspamd score=9.5 required=15 action=add header']);
  });

  it('without the admin\'s scoreWeight each signal takes the detection model\'s weight', async () => {
    reply = answer({ score: 9.5, required_score: 15, action: 'add header', symbols: { B: { name: 'B', score: 6.5 }, BAYES_SPAM: { name: 'BAYES_SPAM', score: 3 } } });
    const f = await rspamdAnalyzer(settings({ scoreWeight: undefined })).run(input, new AbortController().signal);
    assert.deepEqual(f.extraScores!.map((e) => [e.id, e.score]), [
      ['rspamd', Math.round(6.5 * DETECTION_MODEL.weights.rspamd * 1000) / 1000],
      ['rspamd.bayes', Math.round(3 * DETECTION_MODEL.weights['rspamd.bayes'] * 1000) / 1000],
    ]);
  });

  it('maps Rspamd\'s action by `actions` (GTUBE: reject with only a zero-score symbol)', async () => {
    reply = answer({ is_skipped: true, score: 15, required_score: 15, action: 'reject', symbols: { GTUBE: { name: 'GTUBE', score: 0 } } });
    const f = await rspamdAnalyzer(settings({ actions: { reject: 'quarantine' } })).run(input, new AbortController().signal);
    assert.deepEqual(f.extraScores, [{ id: 'rspamd', score: 15, detail: `reject, score 15/15 ×1 (model ${DETECTION_MODEL.version}): GTUBE(0)`, action: 'quarantine' }]);
    const unmapped = await rspamdAnalyzer(settings({ actions: {} })).run(input, new AbortController().signal);
    assert.equal(unmapped.extraScores![0]!.action, undefined);
  });

  it('an HTTP error or a reply that is not /checkv2 rejects (the fallback applies)', async () => {
    reply = () => ({ status: 500, body: 'oops' });
    await assert.rejects(rspamdAnalyzer(settings()).run(input, new AbortController().signal), /HTTP 500/);
    reply = () => ({ status: 200, body: '{"score":"high"}' });
    await assert.rejects(rspamdAnalyzer(settings()).run(input, new AbortController().signal), /no score or action/);
  });

  it('stops when its signal aborts (the time-out) and fails fast when nothing listens', async () => {
    reply = () => ({ status: 200, body: '{}', delayMs: 5000 });
    const c = new AbortController();
    const started = Date.now();
    const run = rspamdAnalyzer(settings()).run(input, c.signal);
    setTimeout(() => c.abort(new Error('rspamd timed out')), 100);
    await assert.rejects(run);
    assert.ok(Date.now() - started < 2000);
    await assert.rejects(rspamdAnalyzer(settings({ url: 'http://127.0.0.1:1' })).run(input, new AbortController().signal), /ECONNREFUSED/);
  });

  it('a message past maxBytes is not sent', async () => {
    const n = seen.length;
    const f = await rspamdAnalyzer(settings({ maxBytes: 10 })).run(input, new AbortController().signal);
    assert.equal(seen.length, n);
    assert.equal(f.extraScores![0]!.id, 'rspamd.skipped');
  });
});

describe('parseCheckV2', () => {
  it('keeps at most 8 symbols and caps names', () => {
    const symbols = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`S${i}`, { name: `S${i}`, score: i + 1 }]));
    const r = parseCheckV2(JSON.stringify({ score: 1, action: 'no action', symbols }));
    assert.equal(r.symbols.length, 8);
    assert.equal(r.symbols[0], 'S19(20)');
    assert.equal(r.requiredScore, 0);
  });
  it('refuses what is not JSON', () => assert.throws(() => parseCheckV2('<html>'), /not JSON/));
});
