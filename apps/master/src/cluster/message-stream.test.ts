import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageStream } from './message-stream.ts';

test('a refusal before the first chunk rejects firstChunk and emits no unhandled error', async () => {
  const s = new MessageStream(4, () => undefined, () => undefined);
  s.fail(new Error('gone'));
  await assert.rejects(s.firstChunk, /gone/);
  await new Promise((resolve) => s.once('close', resolve));
  assert.equal(s.destroyed, true);
});

test('a failure after data has flowed reaches the consumer as an error', async () => {
  const s = new MessageStream(4, () => undefined, () => undefined);
  s.chunk(Buffer.from('From: a\r\n'), false);
  await s.firstChunk;
  const failed = new Promise<Error>((resolve) => s.once('error', resolve));
  s.fail(new Error('node offline'));
  assert.match((await failed).message, /node offline/);
});

test('chunks come out in order and the stream ends with the last one', async () => {
  const s = new MessageStream(4, () => undefined, () => undefined);
  for (let i = 0; i < 4; i++) s.chunk(Buffer.from(`part${i};`), i === 3);
  const parts: string[] = [];
  for await (const c of s) parts.push(String(c));
  assert.equal(parts.join(''), 'part0;part1;part2;part3;');
});
