import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';

// The `analysis` section of the scanner config bounds what content rules see: the same
// message, with a word past the body limit and a header past the header-line limit, is
// quarantined by a scanner with the default limits and delivered by one with small limits.
const RULES = {
  ...BASE_RULES,
  content: [
    { id: 'late-word', target: 'body', contains: 'FARAWAYWORD', action: 'quarantine' },
    { id: 'late-header', target: 'header', header: 'X-Late', contains: 'flagged', action: 'quarantine' },
  ],
};

let downstream: Downstream;
let defaults: ScannerUnderTest;
let small: ScannerUnderTest;

before(async () => {
  downstream = await startDownstream();
  defaults = await startTestScanner(downstream.port, { rules: RULES });
  small = await startTestScanner(downstream.port, { rules: RULES, overrides: { analysis: { maxBodyChars: 1000, maxHeaderLines: 10, timeoutSeconds: 5 } } });
});
after(async () => {
  await small?.close();
  await defaults?.close();
  await downstream?.close();
});

const env = { from: 'alice@origin.test', to: ['user@example.test'] };
const filler = (n: number) => Array.from({ length: n }, (_, i) => `X-Filler-${i}: ${i}`);

async function fate(node: ScannerUnderTest, raw: string): Promise<string> {
  const r = await sendMail(node.port, env, raw);
  assert.equal(r.ok, true, r.response);
  const id = /queued as ([0-9A-Z]{20})/.exec(r.response)?.[1];
  const row = node.scanner.db.prepare('SELECT action FROM messages WHERE id = ?').get(id) as { action: string } | undefined;
  assert.ok(row, `message ${id} is in the log`);
  return row.action;
}

test('a body word past analysis.maxBodyChars is not matched; within the default limit it is', async () => {
  const raw = message({ body: `${'padding text '.repeat(200)}\r\nFARAWAYWORD\r\n` });
  assert.equal(await fate(defaults, raw), 'quarantine');
  assert.equal(await fate(small, raw), 'deliver');
});

test('a header past analysis.maxHeaderLines is not matched; within the default limit it is', async () => {
  const raw = message({ headers: [...filler(20), 'X-Late: flagged'] });
  assert.equal(await fate(defaults, raw), 'quarantine');
  assert.equal(await fate(small, raw), 'deliver');
});

test('within the small limits the same rules still match (the limits bound, they do not switch rules off)', async () => {
  assert.equal(await fate(small, message({ body: 'short FARAWAYWORD body' })), 'quarantine');
  assert.equal(await fate(small, message({ headers: ['X-Late: flagged'] })), 'quarantine');
});
