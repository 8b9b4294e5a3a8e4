import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { check, parseReply, parseReportRules, parseSpamHeader, ping, SpamdError, MAX_REPLY_BYTES } from './spamc-client.ts';

// The real spamd is tested in test/e2e/spamc-client.integration.test.ts; these are the pure
// parsing and the replies no spamd gives on purpose (peers that misbehave on loopback).

const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

const REPORT = `Spam detection software, running on the system "vm",
has identified this incoming email as possible spam.

Content preview:  XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X
   1.5 FAKE_RULE in the preview is message text

Content analysis details:   (1003.3 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
 2.7 MISSING_DATE           Missing Date: header
-0.0 NO_RECEIVED            Informational: message has no Received headers
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
-1.9 BAYES_00               BODY: Bayes spam probability is 0 to 1%
                            [score: 0.0000]
 0.1 URIBL_BLOCKED          ADMINISTRATOR NOTICE: The query to URIBL was blocked.
                            [URIs: 2.0 EVIL_RULE.example]
-100 USER_IN_WELCOMELIST    User is listed in 'welcomelist_from'
`;

describe('parseSpamHeader', () => {
  const cases: [string, { spam: boolean; score: number; required: number } | RegExp][] = [
    ['True ; 1003.3 / 5.0', { spam: true, score: 1003.3, required: 5 }],
    ['False ; 3.7 / 5.0', { spam: false, score: 3.7, required: 5 }],
    ['False ; -1.2 / 5.0', { spam: false, score: -1.2, required: 5 }],
    ['Yes ; 12 / 8.0', { spam: true, score: 12, required: 8 }],
    ['No ; 0.0 / 5.0', { spam: false, score: 0, required: 5 }],
    ['Maybe ; 1.0 / 5.0', /malformed Spam header/],
    ['True ; abc / 5.0', /malformed Spam header/],
    ['True ; 1.0', /malformed Spam header/],
    ['True ; 1.0 / 5.0 ; extra', /malformed Spam header/],
    ['True ; 1e5 / 5.0', /malformed Spam header/],
    [`True ; ${'9'.repeat(400)} / 5.0`, /out of range/],
    ['', /malformed Spam header/],
  ];
  for (const [value, expected] of cases) {
    it(JSON.stringify(value.slice(0, 40)), () => {
      if (expected instanceof RegExp) assert.throws(() => parseSpamHeader(value), (err: unknown) => err instanceof SpamdError && err.code === 'protocol' && expected.test(err.message));
      else assert.deepEqual(parseSpamHeader(value), expected);
    });
  }
});

describe('parseReportRules', () => {
  it('reads the table after its rule line, not the preview, not continuation lines', () => {
    assert.deepEqual(parseReportRules(REPORT), [
      { name: 'MISSING_DATE', score: 2.7 },
      { name: 'NO_RECEIVED', score: 0 },
      { name: 'GTUBE', score: 1000 },
      { name: 'BAYES_00', score: -1.9 },
      { name: 'URIBL_BLOCKED', score: 0.1 },
      { name: 'USER_IN_WELCOMELIST', score: -100 },
    ]);
  });
  it('CRLF line ends read the same', () => assert.equal(parseReportRules(REPORT.replace(/\n/g, '\r\n')).length, 6));
  it('a report without the table (an admin\'s own template) has no rules', () => assert.deepEqual(parseReportRules('Spam, 7 points\n 2.7 MISSING_DATE x\n'), []));
  it('an empty table has no rules', () => assert.deepEqual(parseReportRules(' pts rule name   description\n---- ----------- ------\n\n'), []));
});

describe('parseReply', () => {
  const ok: [string, string, { text: string; headers: [string, string][]; body: string }][] = [
    ['a PING answer (a status line alone)', 'SPAMD/1.5 0 PONG\n', { text: 'PONG', headers: [], body: '' }],
    ['a REPORT answer', 'SPAMD/1.1 0 EX_OK\nContent-length: 5\nSpam: True ; 7.0 / 5.0\n\nhello', { text: 'EX_OK', headers: [['content-length', '5'], ['spam', 'True ; 7.0 / 5.0']], body: 'hello' }],
    ['a TELL answer (a blank line more)', 'SPAMD/1.1 0 EX_OK\nDidSet: local\n\n\n', { text: 'EX_OK', headers: [['didset', 'local']], body: '\r\n' }],
    ['a TELL that did nothing', 'SPAMD/1.1 0 EX_OK\n\n\n', { text: 'EX_OK', headers: [], body: '\r\n' }],
  ];
  for (const [name, raw, expected] of ok) {
    it(name, () => {
      const r = parseReply(crlf(raw));
      assert.deepEqual({ text: r.text, headers: [...r.headers], body: r.body }, expected);
    });
  }
  const bad: [string, string, SpamdError['code'], RegExp][] = [
    ['a non-zero EX_ code', 'SPAMD/1.0 76 Bad header line: (Content-Length mismatch)\n', 'refused', /spamd answered 76: Bad header line/],
    ['TELL without --allow-tell', 'SPAMD/1.0 69 Service Unavailable: TELL commands are not enabled\n', 'refused', /69: Service Unavailable/],
    ['another protocol', 'HTTP/1.1 200 OK\n\n', 'protocol', /unexpected status line "HTTP\/1\.1 200 OK"/],
    ['a status without a code', 'SPAMD/1.1 EX_OK\n', 'protocol', /unexpected status line/],
    ['a status line cut off', 'SPAMD/1.1 0 EX_', 'protocol', /not terminated/],
    ['headers cut off', 'SPAMD/1.1 0 EX_OK\nContent-length: 5', 'protocol', /cut off/],
    ['a header that is not Name: value', 'SPAMD/1.1 0 EX_OK\nnot a header\n\n', 'protocol', /malformed reply header "not a header"/],
    ['a garbage Content-length', 'SPAMD/1.1 0 EX_OK\nContent-length: 5x\n\nhello', 'protocol', /bad Content-length "5x"/],
    ['a body shorter than Content-length', 'SPAMD/1.1 0 EX_OK\nContent-length: 50\nSpam: True ; 7.0 / 5.0\n\nhello', 'protocol', /Content-length 50 but 5 bytes/],
    ['a body longer than Content-length', 'SPAMD/1.1 0 EX_OK\nContent-length: 2\n\nhello', 'protocol', /Content-length 2 but 5 bytes/],
    ['nothing', '', 'protocol', /unexpected status line ""/],
  ];
  for (const [name, raw, code, message] of bad) {
    it(`${name} is a ${code} error`, () => {
      assert.throws(() => parseReply(crlf(raw)), (err: unknown) => err instanceof SpamdError && err.code === code && message.test(err.message));
    });
  }
});

/** A peer on loopback that reads one request (head and Content-length bytes) and answers what the test says. */
async function fakeSpamd(answer: (request: Buffer, socket: Socket) => void): Promise<{ port: number; requests: Buffer[] }> {
  const requests: Buffer[] = [];
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = Number(/Content-length: (\d+)/.exec(buf.subarray(0, headEnd).toString())?.[1] ?? 0);
      if (buf.length < headEnd + 4 + length) return;
      requests.push(buf);
      socket.removeAllListeners('data');
      answer(buf, socket);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, requests };
}
const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

const message = (text: string, bodyBytes = Buffer.byteLength(text)) => ({ prefix: Buffer.from('Received: from x ([192.0.2.1])\r\n'), body: Readable.from([Buffer.from(text)]), bodyBytes });
const opts = () => ({ signal: AbortSignal.timeout(5000) });

describe('check against peers that misbehave', () => {
  it('sends REPORT with Content-length, User, the prefix and then the message', async () => {
    const peer = await fakeSpamd((_req, s) => s.end('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; 1.5 / 5.0\r\n\r\n'));
    const r = await check({ host: '127.0.0.1', port: peer.port }, message('Subject: hi\r\n\r\nhello\r\n'), opts());
    assert.deepEqual(r, { spam: false, score: 1.5, required: 5, rules: [] });
    const sent = peer.requests[0]!.toString();
    const prefix = 'Received: from x ([192.0.2.1])\r\n';
    assert.equal(sent, `REPORT SPAMC/1.5\r\nContent-length: ${prefix.length + 22}\r\nUser: moat\r\n\r\n${prefix}Subject: hi\r\n\r\nhello\r\n`);
  });
  it('an answer without a Spam header is a protocol error', async () => {
    const peer = await fakeSpamd((_req, s) => s.end('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n'));
    await assert.rejects(check({ host: '127.0.0.1', port: peer.port }, message('x\r\n'), opts()), { name: 'SpamdError', code: 'protocol', message: 'spamd reply has no Spam header' });
  });
  it('a reply past the bound is a protocol error', async () => {
    const peer = await fakeSpamd((_req, s) => s.end(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n${'x'.repeat(MAX_REPLY_BYTES)}`));
    await assert.rejects(check({ host: '127.0.0.1', port: peer.port }, message('x\r\n'), opts()), { code: 'protocol', message: `spamd reply over ${MAX_REPLY_BYTES} bytes` });
  });
  it('a peer that never answers is a timeout when the signal aborts', async () => {
    const peer = await fakeSpamd(() => undefined);
    await assert.rejects(check({ host: '127.0.0.1', port: peer.port }, message('x\r\n'), { signal: AbortSignal.timeout(200) }), { code: 'timeout' });
  });
  it('a peer that closes without a word is unreachable', async () => {
    const peer = await fakeSpamd((_req, s) => s.end());
    await assert.rejects(check({ host: '127.0.0.1', port: peer.port }, message('x\r\n'), opts()), { code: 'unreachable', message: 'spamd closed the connection without a reply' });
  });
  it('a message shorter than its declared size is an error, not a hang', async () => {
    const peer = await fakeSpamd(() => undefined);
    await assert.rejects(check({ host: '127.0.0.1', port: peer.port }, message('x\r\n', 10), opts()), { code: 'unreachable', message: /the message has 3 bytes, not 10/ });
  });
  it('a message longer than its declared size is an error', async () => {
    const peer = await fakeSpamd(() => undefined);
    await assert.rejects(check({ host: '127.0.0.1', port: peer.port }, message('xxxxx\r\n', 2), opts()), { code: 'unreachable', message: /longer than its 2 bytes/ });
  });
  it('a header value with a line break is refused before connecting', async () => {
    await assert.rejects(check({ host: '127.0.0.1', port: 1 }, message('x\r\n'), { ...opts(), user: 'moat\r\nSet: local' }), /User header must not contain control characters/);
  });
  it('a unix socket nobody listens on is unreachable', async () => {
    await assert.rejects(ping({ socket: '/nonexistent/moat-spamd.sock' }, opts()), { code: 'unreachable', message: 'spamd: ENOENT' });
  });
  it('a PING answered with something else than PONG is a protocol error', async () => {
    const server = createServer((s) => s.end('SPAMD/1.5 0 PANG\r\n'));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    await assert.rejects(ping({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, opts()), { code: 'protocol', message: /PING with "PANG"/ });
  });
});
