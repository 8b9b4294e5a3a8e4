import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptProtocol, offerProtocol, OLDEST_PROTOCOL_VERSION } from './version.ts';
import { PROTOCOL_VERSION } from './frames.ts';

test('the master accepts its own version and the one before, and names the version spoken', () => {
  const table: [offered: number, ours: number, expected: number | 'refused'][] = [
    [5, 5, 5], [4, 5, 4], [3, 5, 'refused'], [6, 5, 'refused'], [0, 5, 'refused'],
    [1, 1, 1], [0, 1, 'refused'], [2, 1, 'refused'],
    [1, 2, 1], [2, 2, 2], [3, 2, 'refused'],
  ];
  for (const [offered, ours, expected] of table) {
    const r = acceptProtocol(offered, ours);
    assert.equal(r.ok ? r.version : 'refused', expected, `offered ${offered} to ${ours}`);
  }
});

test('a refusal names both versions and which side to upgrade', () => {
  const newer = acceptProtocol(7, 5);
  assert.ok(!newer.ok);
  assert.match(newer.message, /scanner speaks protocol 7, master speaks 5 and accepts 4 or 5: upgrade the master first/);
  const older = acceptProtocol(3, 5);
  assert.ok(!older.ok);
  assert.match(older.message, /scanner speaks protocol 3, master speaks 5 .*upgrade the scanner/);
  const first = acceptProtocol(2, OLDEST_PROTOCOL_VERSION);
  assert.ok(!first.ok);
  assert.match(first.message, /accepts 1:/);
});

test('the scanner offers the master\'s version when the master is one behind, else its own', () => {
  assert.equal(offerProtocol(4, 5), 4);
  assert.equal(offerProtocol(5, 5), 5);
  assert.equal(offerProtocol(6, 5), 5);
  assert.equal(offerProtocol(3, 5), 5);
  assert.equal(offerProtocol(0, 1), 1, 'no version older than the first');
  assert.equal(offerProtocol(PROTOCOL_VERSION, PROTOCOL_VERSION), PROTOCOL_VERSION);
});
