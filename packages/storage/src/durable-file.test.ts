import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileDurably, sweepTemporaryFiles, removeDurably } from './durable-file.ts';

test('writeFileDurably leaves only the final file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-durable-'));
  await writeFileDurably(join(dir, 'a.txt'), 'hello');
  assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'hello');
  assert.deepEqual(readdirSync(dir), ['a.txt']);
  await removeDurably(join(dir, 'a.txt'));
  assert.deepEqual(readdirSync(dir), []);
});

test('sweepTemporaryFiles removes interrupted writes and keeps the rest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-durable-'));
  writeFileSync(join(dir, 'keep.eml'), 'x');
  writeFileSync(join(dir, 'half.eml.tmp-1-2'), 'x');
  assert.equal(await sweepTemporaryFiles(dir), 1);
  assert.deepEqual(readdirSync(dir), ['keep.eml']);
});
