import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { HeaderRewriter } from './header-rewrite.ts';

async function rewrite(input: string | Buffer, prepend: string[], prefix: string, chunk = 7): Promise<string> {
  const bytes = Buffer.from(input);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return (await buffer(Readable.from(parts).pipe(new HeaderRewriter(prepend, prefix)))).toString('latin1');
}

test('prepends headers and keeps the rest byte-identical', async () => {
  const msg = 'From: a@b\r\nSubject: hi\r\n\r\nbody\r\n.dots\r\n\xff\r\n';
  assert.equal(await rewrite(Buffer.from(msg, 'latin1'), ['X-A: 1'], ''), `X-A: 1\r\n${msg}`);
});

test('prefixes the subject only in the header block', async () => {
  const msg = 'From: a@b\r\nsubject: hi\r\n\r\nSubject: not this one\r\n';
  assert.equal(await rewrite(msg, ['X-A: 1'], '[SPAM]', 3), 'X-A: 1\r\nFrom: a@b\r\nsubject: [SPAM] hi\r\n\r\nSubject: not this one\r\n');
});

test('adds a subject when there is none, bare LF messages too', async () => {
  assert.equal(await rewrite('From: a@b\n\nbody\n', [], '[SPAM]'), 'Subject: [SPAM]\r\nFrom: a@b\n\nbody\n');
});

test('a message that is only headers', async () => {
  assert.equal(await rewrite('Subject: x\r\n', [], '[T]'), 'Subject: [T] x\r\n');
});

async function guarded(input: string, prepend: string[], authservIds: string[] = [], chunk = 5): Promise<{ out: string; rewriter: HeaderRewriter }> {
  const bytes = Buffer.from(input, 'latin1');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const rewriter = new HeaderRewriter(prepend, '', { authservIds });
  const out = (await buffer(Readable.from(parts).pipe(rewriter))).toString('latin1');
  return { out, rewriter };
}

test('a received message: its verdict fields and forged Authentication-Results are renamed, ours prepended intact, the body untouched', async () => {
  const msg = [
    'X-Spam-Flag: NO',
    'X-Moat-Verdict: deliver',
    'Authentication-Results: gw.test; dmarc=pass',
    'Subject: hi',
    '',
    'X-Spam-Flag: NO in the body stays',
    '',
  ].join('\r\n');
  const { out, rewriter } = await guarded(msg, ['X-Moat-Verdict: tag', 'X-Spam-Flag: YES', 'Authentication-Results: gw.test; spf=fail'], ['gw.test']);
  assert.equal(out, [
    'X-Moat-Verdict: tag',
    'X-Spam-Flag: YES',
    'Authentication-Results: gw.test; spf=fail',
    'X-Moat-Untrusted-Spam-Flag: NO',
    'X-Moat-Untrusted-Moat-Verdict: deliver',
    'X-Moat-Untrusted-Authentication-Results: gw.test; dmarc=pass',
    'Subject: hi',
    '',
    'X-Spam-Flag: NO in the body stays',
    '',
  ].join('\r\n'));
  assert.equal(rewriter.renamedVerdicts, 2);
  assert.equal(rewriter.renamedAuthResults, 1);
});

test('without a guard (a DSN, a digest we composed) nothing is renamed', async () => {
  const msg = 'X-Moat-Queue-ID: abc\r\nX-Spam-Flag: NO\r\n\r\nbody\r\n';
  const rewriter = new HeaderRewriter(['X-A: 1'], '');
  const out = (await buffer(Readable.from([Buffer.from(msg)]).pipe(rewriter))).toString('latin1');
  assert.equal(out, `X-A: 1\r\n${msg}`);
  assert.equal(rewriter.renamedVerdicts, 0);
});
