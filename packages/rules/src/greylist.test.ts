import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideGreylist, greylistKey, greylistText, greylistTriplet, type GreylistEntry } from './greylist.ts';
import { validateRules } from './validate.ts';

const times = { delaySeconds: 300, expirySeconds: 3600, passSeconds: 86_400 };
const prefixes = { ipv4Prefix: 24, ipv6Prefix: 64 };

/** A fake clock: the tests move it by hand. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => (t += seconds * 1000) };
}

test('triplets group IPv4 by /24 and IPv6 by /64, lower-case the addresses, name the null sender', () => {
  const cases: [string, string, string, string][] = [
    ['192.0.2.77', 'A@Origin.test', 'User@Example.test', '192.0.2.0/24 a@origin.test user@example.test'],
    ['::ffff:192.0.2.200', 'a@origin.test', 'user@example.test', '192.0.2.0/24 a@origin.test user@example.test'],
    ['2001:db8:1:2:aaaa::1', '', 'user@example.test', '2001:db8:1:2:0:0:0:0/64 <> user@example.test'],
    ['2001:db8:1:2::ffff', 'b@x.test', 'u@example.test', '2001:db8:1:2:0:0:0:0/64 b@x.test u@example.test'],
  ];
  for (const [ip, from, rcpt, key] of cases) assert.equal(greylistKey(greylistTriplet(prefixes, ip, from, rcpt)!), key, ip);
  assert.equal(greylistTriplet({ ipv4Prefix: 32, ipv6Prefix: 128 }, '198.51.100.7', 'a@b', 'c@d')!.network, '198.51.100.7/32');
  assert.equal(greylistTriplet({ ipv4Prefix: 16, ipv6Prefix: 48 }, '198.51.100.7', 'a@b', 'c@d')!.network, '198.51.0.0/16');
  assert.equal(greylistTriplet(prefixes, 'not-an-ip', 'a@b', 'c@d'), undefined);
  const long = greylistTriplet(prefixes, '192.0.2.1', `${'x'.repeat(400)}@a.test`, `${'y'.repeat(400)}@example.test`)!;
  assert.equal(long.sender.length, 320, 'clipped to what the greylist.check frame carries');
  assert.equal(long.recipient.length, 320);
});

test('first attempt deferred; a retry before the delay deferred with the time left; after the delay it passes', () => {
  const c = clock();
  let d = decideGreylist(times, undefined, c.now());
  assert.equal(d.pass, false);
  assert.equal(d.retryInSeconds, 300);
  assert.deepEqual(d.entry, { firstSeen: c.now(), passedAt: null, expiresAt: c.now() + 3_600_000 });
  const first = d.entry;

  c.advance(120);
  d = decideGreylist(times, first, c.now());
  assert.equal(d.pass, false);
  assert.equal(d.retryInSeconds, 180);
  assert.equal(d.entry, first, 'a fast retry does not move the first-seen time');

  c.advance(179.5);
  d = decideGreylist(times, d.entry, c.now());
  assert.equal(d.pass, false);
  assert.equal(d.retryInSeconds, 1, 'never "retry in 0 seconds"');

  c.advance(0.5);
  d = decideGreylist(times, d.entry, c.now());
  assert.equal(d.pass, true);
  assert.deepEqual(d.entry, { firstSeen: first.firstSeen, passedAt: c.now(), expiresAt: c.now() + 86_400_000 });
});

test('a passed triplet keeps passing and each pass renews it; it is forgotten after passSeconds without use', () => {
  const c = clock();
  let entry: GreylistEntry = { firstSeen: c.now() - 400_000, passedAt: c.now() - 100_000, expiresAt: c.now() + 1000 };
  c.advance(0.5);
  const d = decideGreylist(times, entry, c.now());
  assert.equal(d.pass, true);
  assert.equal(d.entry.passedAt, entry.passedAt, 'the first pass time is kept');
  assert.equal(d.entry.expiresAt, c.now() + 86_400_000);
  entry = d.entry;
  c.advance(86_400);
  const again = decideGreylist(times, entry, c.now());
  assert.equal(again.pass, false, 'expired exactly at expiresAt: greylisted anew');
  assert.deepEqual(again.entry, { firstSeen: c.now(), passedAt: null, expiresAt: c.now() + 3_600_000 });
});

test('a deferred triplet not retried within expirySeconds starts over', () => {
  const c = clock();
  const first = decideGreylist(times, undefined, c.now()).entry;
  c.advance(3600);
  const d = decideGreylist(times, first, c.now());
  assert.equal(d.pass, false);
  assert.equal(d.entry.firstSeen, c.now());
});

test('the reply text names the recipient and the wait, without control characters', () => {
  assert.equal(greylistText('u@example.test\r\nX', 42), '<u@example.testX>: Greylisted: the first delivery attempt from your network and sender to this recipient is deferred, please retry in 42 seconds');
});

test('rules: greylisting defaults off, expiry must exceed the delay', () => {
  const base = { version: 1, acceptedDomains: ['example.test'] };
  const rules = validateRules(base);
  assert.deepEqual(rules.greylisting, { enabled: false, delaySeconds: 300, expirySeconds: 172_800, passSeconds: 3_110_400, ipv4Prefix: 24, ipv6Prefix: 64, lookupTimeoutMs: 1500 });
  assert.throws(() => validateRules({ ...base, greylisting: { enabled: true, delaySeconds: 600, expirySeconds: 600 } }), /greylisting\.expirySeconds/);
  assert.throws(() => validateRules({ ...base, greylisting: { delay: 5 } }), /greylisting/);
});
