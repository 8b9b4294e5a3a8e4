import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestScanner, BASE_RULES, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { sendMail, message, RawSmtp } from '../helpers/smtp-client.ts';

// The size limit holds while DATA streams (issue 19, item 5): a 100 MB message to a 1 MiB limit
// never puts more than the limit on disk, is read to its end and answered 552 5.3.4.

const LIMIT = 1024 * 1024;
const TOTAL = 100 * 1000 * 1000;
const CHUNK = 64 * 1024;

let downstream: Downstream;
let node: ScannerUnderTest;

before(async () => {
  downstream = await startDownstream();
  node = await startTestScanner(downstream.port, { rules: { ...BASE_RULES, limits: { ...BASE_RULES.limits, maxMessageBytes: LIMIT } } });
});
after(async () => {
  await node.close();
  await downstream.close();
});

/** Bytes (apparent and allocated) of the files where DATA is received. */
function spoolUse(): { bytes: number; allocated: number; files: number } {
  const dir = join(node.dir, 'data', 'queue');
  let bytes = 0;
  let allocated = 0;
  let files = 0;
  for (const name of readdirSync(dir)) {
    try {
      const st = statSync(join(dir, name));
      bytes += st.size;
      allocated += st.blocks * 512;
      files++;
    } catch {
      // removed between readdir and stat: it no longer uses the disk
    }
  }
  return { bytes, allocated, files };
}

/** A message of `total` bytes made as it is read (never held whole), sampling the spool before each chunk. */
function hugeMessage(total: number, sample: () => void): Readable {
  const head = Buffer.from(message({ subject: 'huge', body: '' }));
  const line = Buffer.from('x'.repeat(78) + '\r\n');
  const chunk = Buffer.concat(Array.from({ length: Math.floor(CHUNK / line.length) }, () => line));
  let sent = 0;
  return new Readable({
    read() {
      sample();
      if (sent === 0) {
        sent += head.length;
        return void this.push(head);
      }
      if (sent >= total) return void this.push(null);
      const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += part.length;
      this.push(part);
    },
  });
}

test('EHLO advertises the limit as SIZE', async () => {
  const s = await RawSmtp.open(node.port);
  await s.reply();
  assert.match(await s.command('EHLO client.test'), new RegExp(`250[- ]SIZE ${LIMIT}\\b`));
  assert.match(await s.command(`MAIL FROM:<a@origin.test> SIZE=${LIMIT + 1}`), /^552 5\.3\.4 /);
  s.close();
});

test('a 100 MB message to a 1 MiB limit: never more than the limit on disk, read to the end, 552 5.3.4, nothing kept', async () => {
  const before = spoolUse();
  assert.equal(before.files, 0);
  let peakBytes = 0;
  let peakAllocated = 0;
  let samples = 0;
  let sawSpool = false;
  const sample = () => {
    const use = spoolUse();
    samples++;
    if (use.files > 0) sawSpool = true;
    peakBytes = Math.max(peakBytes, use.bytes);
    peakAllocated = Math.max(peakAllocated, use.allocated);
  };
  const r = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, hugeMessage(TOTAL, sample));
  assert.equal(r.code, 552, r.response);
  assert.match(r.response, /^552 5\.3\.4 /);
  assert.ok(samples > TOTAL / CHUNK / 2, `sampled while streaming (${samples})`);
  assert.ok(sawSpool, 'the spool file was seen while the message came in');
  assert.ok(peakBytes <= LIMIT, `at most the limit on disk: saw ${peakBytes}`);
  // Allocation rounds up to the filesystem's blocks (and may preallocate a little).
  assert.ok(peakAllocated <= LIMIT + CHUNK, `at most the limit and a chunk allocated: saw ${peakAllocated}`);
  const afterUse = spoolUse();
  assert.deepEqual(afterUse, { bytes: 0, allocated: 0, files: 0 });
  assert.equal((node.scanner.db.prepare('SELECT count(*) n FROM queue').get() as { n: number }).n, 0);
  // The scanner goes on: a message under the limit is accepted and delivered.
  const ok = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'small' }));
  assert.equal(ok.code, 250, ok.response);
  await downstream.waitFor(1);
});
