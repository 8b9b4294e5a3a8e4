import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeInto } from './pipe-into.ts';

test('pipeInto resolves once the file stream is closed (its flush done), with every byte written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-into-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dest = createWriteStream(join(dir, 'f'), { flags: 'wx', flush: true });
  await pipeInto(Readable.from([Buffer.from('a'.repeat(100_000)), Buffer.from('end')]), dest);
  assert.equal(dest.closed, true);
  assert.equal(readFileSync(join(dir, 'f'), 'latin1'), `${'a'.repeat(100_000)}end`);
});

test('a source error rejects with it and destroys the destination', async () => {
  const source = new PassThrough();
  const dest = new PassThrough();
  const p = pipeInto(source, dest);
  source.write('x');
  source.destroy(Object.assign(new Error('DATA time-out'), { code: 'ETIMEDOUT' }));
  await assert.rejects(p, /DATA time-out/);
  assert.equal(dest.destroyed, true);
});

test('a destination error rejects with it (its code kept) and destroys the source', async () => {
  const source = new PassThrough();
  const dest = new Writable({ write(_c, _e, cb) { cb(Object.assign(new Error('too many parts'), { code: 'EMAXLEN' })); } });
  const p = pipeInto(source, dest);
  source.write('x');
  await assert.rejects(p, (e: unknown) => (e as { code?: string }).code === 'EMAXLEN');
  assert.equal(source.destroyed, true);
});

test('a file that cannot be created rejects (wx on an existing file)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-into-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await pipeInto(Readable.from(['one']), createWriteStream(join(dir, 'f'), { flags: 'wx' }));
  await assert.rejects(pipeInto(Readable.from(['two']), createWriteStream(join(dir, 'f'), { flags: 'wx' })), /EEXIST/);
  assert.ok(existsSync(join(dir, 'f')));
  assert.equal(readFileSync(join(dir, 'f'), 'latin1'), 'one');
});
