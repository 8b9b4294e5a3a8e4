/**
 * Fuzz target `mime`: random MIME trees (nesting, shared and broken boundaries, every transfer
 * encoding valid and broken, header damage, encoded words, RFC 2231 parameters, zip and
 * zip-like attachments) written to a real spool file and run through the scanner's analysis
 * (apps/scanner/src/pipeline/analyze.ts analyzeMessage) and then the rule engine. The analysis
 * always ends with facts: it resolves, or (past mailsplit's structure limits) rejects with an
 * UnanalysableMessage('analysis-limit') that carries partial facts. Never another error, never
 * a time-out, and the heap does not grow across the run. The corpus holds the hand-picked
 * messages of test/helpers/hostile-mail.ts (hostile-*.json) beside what fuzzing found.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileRules, evaluateMessage, demoRules } from '@moat/rules';
import { analyzeMessage, UnanalysableMessage, type ContentFacts } from '../../apps/scanner/src/pipeline/analyze.ts';
import { storedZip } from '../helpers/zip.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { fuzz } from './fuzz-runner.ts';

type Part =
  | { kind: 'leaf'; headers: string[]; encoding: string; body: string }
  | { kind: 'multi'; headers: string[]; subtype: string; boundary: string; preamble: string; epilogue: string; closed: boolean; parts: Part[] };

const headerValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('=?utf-8?B?####?=', '=?utf-8?Q?caf=C3=A9?=', '=?no-such?Q?x?=', '=?utf-8?B?' + Buffer.from([0xff, 0xfe, 0xc0]).toString('base64') + '?=', '=?', '?=', '"unterminated', '(comment (nested', '<a@b>', 'x'.repeat(2000)),
);
const extraHeaders = fc.array(fc.oneof(
  fc.tuple(fc.constantFrom('Subject', 'X-Spam', 'Message-ID', 'From', 'To', 'Content-Disposition', 'Received', 'X-\u00e9', ''), headerValue).map(([n, v]) => `${n}: ${v}`),
  fc.constantFrom('no colon here', ':', ': empty name', ' folded continuation', '\tfolded', 'Subject:', 'Content-Type: ; ;;', 'Content-Type: /', 'Content-Transfer-Encoding: base64; x=y'),
  fc.string({ unit: 'binary', maxLength: 40 }),
), { maxLength: 4 });

const filename = fc.oneof(fc.constantFrom('a.zip', 'report.pdf', 'evil.exe', 'x.ZIP', '..\\..\\evil.bat', '', 'é.zip', 'a"b.zip'), fc.string({ maxLength: 20 }));
const disposition = fc.oneof(
  filename.map((n) => `Content-Disposition: attachment; filename="${n}"`),
  filename.map((n) => `Content-Disposition: attachment; filename*=utf-8''${encodeURIComponent(n)}%`),
  filename.map((n) => `Content-Disposition: attachment; filename*0="${n}"; filename*1*=%FF%ZZ`),
  fc.constantFrom('Content-Disposition: inline', 'Content-Disposition: attachment', 'Content-Disposition: ;filename=', ''),
);

const zipBytes = fc.oneof(
  fc.array(fc.record({ name: fc.oneof(fc.constantFrom('a.exe', 'doc.pdf', '../x', ''), fc.string({ maxLength: 30 })), data: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) }), { maxLength: 4 }).map((entries) => storedZip(entries)),
  fc.tuple(fc.array(fc.record({ name: fc.string({ maxLength: 10 }), data: fc.constant(Buffer.from('x')) }), { minLength: 1, maxLength: 3 }), fc.nat(200)).map(([e, cut]) => storedZip(e).subarray(0, cut)), // truncated
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), Buffer.from(b)])), // a local header then garbage
  fc.constant(Buffer.from('PK\u0005\u0006' + '\u0000'.repeat(18), 'latin1')), // an empty central directory
);

function encodeBody(bytes: Buffer, encoding: string, broken: boolean): string {
  switch (encoding) {
    case 'base64':
      return broken ? bytes.toString('base64').replace(/[A-D]/g, '@').replace(/(.{7})/g, '$1\r\n=') : bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
    case 'quoted-printable':
      return broken ? bytes.toString('latin1').replace(/=/g, '=Z') + '=' : [...bytes].map((b) => (b >= 33 && b <= 126 && b !== 61 ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('').replace(/.{72}/g, '$&=\r\n');
    default:
      return bytes.toString('latin1');
  }
}

const leaf: fc.Arbitrary<Part> = fc.record({
  type: fc.constantFrom('text/plain', 'text/html', 'text/plain; charset=utf-8', 'text/plain; charset=x-unknown', 'text/html; charset="iso-8859-1"', 'application/zip', 'application/octet-stream', 'message/rfc822', 'image/png', 'application/x-zip-compressed', 'text/calendar; method=REQUEST', 'bogus', ''),
  encoding: fc.constantFrom('7bit', '8bit', 'binary', 'base64', 'quoted-printable', 'x-uuencode', 'bogus', ''),
  broken: fc.boolean(),
  disposition,
  content: fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom('<html><body>QUARANTINE-ME<script>x</script><style>y</style></body></html>', '<', '<<<<<<', 'begin 644 x\n`\nend\n', '\r\n.\r\n', '--\r\n--', 'From: inner@x\r\nSubject: inner\r\n\r\nbody'),
    zipBytes.map((b) => ({ zip: b })),
  ),
  headers: extraHeaders,
}).map(({ type, encoding, broken, disposition: disp, content, headers }) => {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'latin1') : content.zip;
  const isZip = typeof content !== 'string';
  return {
    kind: 'leaf' as const,
    headers: [type || isZip ? `Content-Type: ${isZip ? 'application/zip' : type}` : '', encoding ? `Content-Transfer-Encoding: ${encoding}` : '', disp, ...headers].filter(Boolean),
    encoding,
    body: encodeBody(bytes, isZip && (encoding === '7bit' || encoding === '') ? 'base64' : encoding, broken),
  };
});

const boundary = fc.oneof(fc.constantFrom('b', 'b1', '', ' ', 'a b', '"', '--', 'x'.repeat(100), '=_part_=', 'b\u00e9', 'b\u0000'), fc.string({ minLength: 1, maxLength: 20 }));

const tree: fc.Arbitrary<Part> = fc.letrec<{ part: Part }>((tie) => ({
  part: fc.oneof(
    { depthSize: 'small', maxDepth: 5, withCrossShrink: true },
    leaf,
    fc.record({
      kind: fc.constant('multi' as const),
      headers: extraHeaders,
      subtype: fc.constantFrom('mixed', 'alternative', 'related', 'signed', 'digest', 'report', 'x-bogus'),
      boundary,
      preamble: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 })),
      epilogue: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 })),
      closed: fc.boolean(),
      parts: fc.array(tie('part'), { maxLength: 4 }),
    }),
  ),
})).part;

function serialize(p: Part, eol: string): string {
  if (p.kind === 'leaf') return [...p.headers, '', p.body].join(eol);
  const head = [`Content-Type: multipart/${p.subtype}; boundary="${p.boundary}"`, ...p.headers, '', p.preamble];
  const body = p.parts.flatMap((child) => [`--${p.boundary}`, serialize(child, eol)]);
  return [...head, ...body, ...(p.closed ? [`--${p.boundary}--`, p.epilogue] : [])].join(eol);
}

/** A whole message: top headers, the tree, a line-ending style; as latin1 bytes. */
const message = fc.record({
  top: fc.array(fc.constantFrom('From: sender@origin.test', 'To: user@example.test', 'MIME-Version: 1.0', 'Subject: fuzz', 'Subject: =?utf-8?Q?TAG-ME?=', 'Message-ID: <x@y>', 'Date: yesterday'), { maxLength: 6 }),
  tree,
  eol: fc.constantFrom('\r\n', '\r\n', '\n', '\r'),
}).map(({ top, tree: t, eol }) => [...top, serialize(t, eol)].join(eol));

const tmp = tempDir('fuzz-mime');
after(() => tmp.cleanup());
const spool = join(tmp.path, 'spool.eml');
const rules = compileRules(demoRules());
const LIMITS = { maxBodyChars: 1_000_000, maxHeaderLines: 1000, timeoutMs: 20_000 };

function checkFacts(facts: ContentFacts): void {
  assert.ok(Array.isArray(facts.headers) && Array.isArray(facts.attachments));
  assert.equal(typeof facts.subject, 'string');
  assert.ok(facts.bodyText.length <= LIMITS.maxBodyChars);
  for (const a of facts.attachments) {
    assert.ok(Number.isInteger(a.sizeBytes) && a.sizeBytes >= 0);
    assert.equal(a.contentType, a.contentType.toLowerCase());
  }
}

let limited = 0;
test('fuzz mime: analysis of a spooled message always ends with facts', async () => {
  await fuzz({
    name: 'mime',
    defaultRuns: 800,
    arbitrary: message,
    async property(text) {
      writeFileSync(spool, text, 'latin1');
      let facts: ContentFacts;
      try {
        facts = await analyzeMessage(spool, LIMITS);
      } catch (err) {
        if (!(err instanceof UnanalysableMessage)) throw new Error(`analysis threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
        assert.equal(err.reason, 'analysis-limit', `a ${err.reason}: ${err.message}`);
        facts = err.partial;
        limited++;
      }
      checkFacts(facts);
      const verdict = evaluateMessage(rules, { clientIp: '192.0.2.7', mailFrom: 'sender@origin.test', rcptTo: ['user@example.test'], sizeBytes: statSync(spool).size, ...facts });
      assert.ok(['deliver', 'tag', 'quarantine', 'reject'].includes(verdict.action));
    },
  });
  console.log(`mime: ${limited} messages past the structure limits (quarantined as analysis-limit)`);
});
