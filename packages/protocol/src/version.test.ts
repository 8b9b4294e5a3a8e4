import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptProtocol, offerProtocol, OLDEST_PROTOCOL_VERSION } from './version.ts';
import { PROTOCOL_VERSION } from './frames.ts';

test('the master accepts its own version and the one before, and names the version spoken', () => {
  const table: [offered: number, ours: number, expected: number | 'refused'][] = [
    [5, 5, 5], [4, 5, 4], [3, 5, 'refused'], [6, 5, 'refused'], [0, 5, 'refused'],
    [2, 2, 2], [1, 2, 'refused'], [3, 2, 'refused'],
    [2, 3, 2], [3, 3, 3], [1, 3, 'refused'], [4, 3, 'refused'],
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
  const first = acceptProtocol(OLDEST_PROTOCOL_VERSION + 1, OLDEST_PROTOCOL_VERSION);
  assert.ok(!first.ok);
  assert.match(first.message, new RegExp(`accepts ${OLDEST_PROTOCOL_VERSION}:`));
  // Version 1 (the shared join secret) is spoken no more: a version-1 hello is told to upgrade.
  const v1 = acceptProtocol(1, 2);
  assert.ok(!v1.ok);
  assert.match(v1.message, /scanner speaks protocol 1, master speaks 2 and accepts 2: upgrade the scanner/);
});

test('the scanner offers the master\'s version when the master is one behind, else its own', () => {
  assert.equal(offerProtocol(4, 5), 4);
  assert.equal(offerProtocol(5, 5), 5);
  assert.equal(offerProtocol(6, 5), 5);
  assert.equal(offerProtocol(3, 5), 5);
  assert.equal(offerProtocol(1, 2), 2, 'no version older than the oldest still spoken');
  assert.equal(offerProtocol(PROTOCOL_VERSION, PROTOCOL_VERSION), PROTOCOL_VERSION);
});
