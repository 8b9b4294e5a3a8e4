import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normaliseAddress, proxyV1 } from './proxy-header.ts';
import { parseReply } from './smtp-reply.ts';

test('PROXY v1: TCP4 line with IPv4-mapped addresses normalised', () => {
  assert.equal(proxyV1('::ffff:127.0.0.5', '::ffff:127.0.0.100', 40000, 2500), 'PROXY TCP4 127.0.0.5 127.0.0.100 40000 2500\r\n');
  assert.equal(proxyV1('::1', '::1', 1, 2), 'PROXY TCP6 ::1 ::1 1 2\r\n');
  assert.equal(proxyV1('127.0.0.1', '::1', 1, 2), 'PROXY UNKNOWN\r\n');
  assert.equal(normaliseAddress('::FFFF:10.1.2.3'), '10.1.2.3');
});

const replies: Array<[input: string, expected: ReturnType<typeof parseReply>]> = [
  ['220 ready\r\n', { code: 220, length: 11 }],
  ['220-one\r\n220 two\r\n', { code: 220, length: 18 }],
  ['220-one\r\n', null],
  ['220 partial', null],
  ['554 go away\r\n', { code: 554, length: 13 }],
  ['HTTP/1.1 400\r\n', 'invalid'],
  ['220\r\n', { code: 220, length: 5 }],
];
for (const [input, expected] of replies) {
  test(`parseReply ${JSON.stringify(input)}`, () => assert.deepEqual(parseReply(Buffer.from(input)), expected));
}

test('parseReply: a line that never ends is capped', () => {
  assert.equal(parseReply(Buffer.alloc(5000, 0x41)), 'invalid');
});
