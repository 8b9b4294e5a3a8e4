import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkReplay, configHash, decodeAdvert, encodeAdvert, nextStamp, type AdvertFields } from './advert.ts';

const KEY = 'k'.repeat(32);
const adv: AdvertFields = { vrid: 7, priority: 200, intervalCs: 10, preempt: true, configHash: configHash(7, 100), stamp: 1_700_000_000_000_123, nodeId: 'gw-a' };

test('advert: encode → decode round-trips every field', () => {
  const d = decodeAdvert(encodeAdvert(adv, KEY), KEY);
  assert.deepEqual(d, { ok: true, advert: adv });
});

test('advert: wrong key, flipped bit, truncation and junk are rejected with a reason', () => {
  const buf = encodeAdvert(adv, KEY);
  assert.deepEqual(decodeAdvert(buf, 'x'.repeat(32)), { ok: false, reason: 'hmac' });
  const flipped = Buffer.from(buf);
  flipped[7] = 255; // priority raised by an attacker
  assert.deepEqual(decodeAdvert(flipped, KEY), { ok: false, reason: 'hmac' });
  assert.deepEqual(decodeAdvert(buf.subarray(0, buf.length - 1), KEY), { ok: false, reason: 'length' });
  assert.deepEqual(decodeAdvert(Buffer.from('hello'), KEY), { ok: false, reason: 'short' });
  assert.deepEqual(decodeAdvert(Buffer.alloc(80), KEY), { ok: false, reason: 'magic' });
});

test('anti-replay: stamps must increase per sender and lie within the window', () => {
  const now = 1_700_000_000_000;
  const s1 = checkReplay(new Map(), 'a', now * 1000, now, 5000);
  assert.ok(s1.ok);
  assert.deepEqual(checkReplay(s1.seen, 'a', now * 1000, now, 5000), { ok: false, reason: 'replay' });
  assert.deepEqual(checkReplay(s1.seen, 'a', now * 1000 - 5, now, 5000), { ok: false, reason: 'replay' });
  assert.ok(checkReplay(s1.seen, 'a', now * 1000 + 1, now, 5000).ok);
  assert.ok(checkReplay(s1.seen, 'b', now * 1000, now, 5000).ok, 'senders are independent');
  assert.deepEqual(checkReplay(new Map(), 'a', (now - 6000) * 1000, now, 5000), { ok: false, reason: 'stale' });
  assert.deepEqual(checkReplay(new Map(), 'a', (now + 6000) * 1000, now, 5000), { ok: false, reason: 'stale' });
});

test('nextStamp follows the clock and never repeats', () => {
  assert.equal(nextStamp(0, 1000), 1_000_000);
  assert.equal(nextStamp(1_000_000, 1000), 1_000_001);
  assert.equal(nextStamp(5_000_000, 1000), 5_000_001, 'a clock step back does not reuse stamps');
});

test('configHash differs when the timers differ', () => {
  assert.notEqual(configHash(7, 100), configHash(7, 1000));
  assert.notEqual(configHash(7, 100), configHash(8, 100));
});
