import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { GTUBE } from '@moat/rules';
import { check, ping, tell, SpamdError, type SpamdAddress } from '../../apps/scanner/src/analyzers/spamassassin/spamc-client.ts';
import { SPAMD_SKIP, startSpamd, type Spamd } from '../helpers/spamd.ts';

const signal = () => AbortSignal.timeout(30_000);
const mail = (subject: string, body: string) =>
  `From: Alice <alice@origin.test>\r\nTo: user@example.test\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@origin.test>\r\n\r\n${body}\r\n`;
const message = (text: string) => {
  const bytes = Buffer.from(text);
  return { prefix: Buffer.from(`Received: from mx.origin.test ([203.0.113.9])\r\n\tby scanner.test (Moat) with ESMTP;\r\n\t${new Date().toUTCString()}\r\n`), body: Readable.from([bytes]), bodyBytes: bytes.length };
};

describe('SPAMC/1.5 client with a real spamd', { skip: SPAMD_SKIP, timeout: 120_000 }, () => {
  let spamd: Spamd;
  let tcp: SpamdAddress;
  let unix: SpamdAddress;
  before(async () => {
    spamd = await startSpamd({ allowTell: true });
    tcp = { host: spamd.host, port: spamd.port };
    unix = { socket: spamd.socket };
  });
  after(async () => {
    await spamd?.stop();
  });

  test('PING answers over TCP and the unix socket', async () => {
    await ping(tcp, { signal: signal() });
    await ping(unix, { signal: signal() });
  });

  test('GTUBE is spam with at least 1000 points, GTUBE(1000) among the rules', async () => {
    const r = await check(tcp, message(mail('gtube', GTUBE)), { signal: signal() });
    assert.equal(r.spam, true);
    assert.ok(r.score >= 1000, `score ${r.score}`);
    assert.equal(r.required, 5);
    assert.deepEqual(r.rules.find((h) => h.name === 'GTUBE'), { name: 'GTUBE', score: 1000 });
  });

  test('a plain message is not spam; the rules hit add up to its score (unix socket)', async () => {
    const r = await check(unix, message(mail('lunch', 'Lunch tomorrow at noon? The usual place.')), { signal: signal() });
    assert.equal(r.spam, false);
    assert.ok(r.score < r.required, `score ${r.score}`);
    const sum = r.rules.reduce((s, h) => s + h.score, 0);
    // The table shows each score rounded to one decimal, and so does the Spam header.
    assert.ok(Math.abs(sum - r.score) <= 0.05 * r.rules.length + 0.05, `${r.score} vs ${JSON.stringify(r.rules)}`);
  });

  test('a message many times the socket buffers is streamed with back-pressure and checked whole', async () => {
    const line = 'The quarterly figures are attached below, as discussed at the meeting on Tuesday.\r\n';
    const text = mail('big', line.repeat(Math.ceil(1_500_000 / line.length)));
    const r = await check(tcp, message(text), { signal: signal() });
    assert.equal(typeof r.score, 'number');
    assert.equal(r.required, 5);
  });

  test('TELL learns a message as spam once, then unlearns it', async () => {
    const text = mail('learn me', 'Cheap watches and pills, best prices, click now.');
    assert.deepEqual(await tell(tcp, message(text), { messageClass: 'spam', action: 'set' }, { signal: signal() }), { didSet: ['local'], didRemove: [] });
    assert.deepEqual(await tell(tcp, message(text), { messageClass: 'spam', action: 'set' }, { signal: signal() }), { didSet: [], didRemove: [] }, 'already learned: nothing to do');
    assert.deepEqual(await tell(unix, message(text), { messageClass: 'spam', action: 'remove' }, { signal: signal() }), { didSet: [], didRemove: ['local'] });
    assert.deepEqual(await tell(tcp, message(text), { messageClass: 'ham', action: 'set' }, { signal: signal() }), { didSet: ['local'], didRemove: [] });
  });
});

describe('TELL to a spamd without --allow-tell', { skip: SPAMD_SKIP, timeout: 120_000 }, () => {
  test('is refused with spamd\'s EX_UNAVAILABLE and its words', async () => {
    const spamd = await startSpamd();
    try {
      await assert.rejects(
        tell({ host: spamd.host, port: spamd.port }, message(mail('no tell', 'hello')), { messageClass: 'ham', action: 'set' }, { signal: signal() }),
        (err: unknown) => err instanceof SpamdError && err.code === 'refused' && /^spamd answered 69: Service Unavailable: TELL commands are not enabled/.test(err.message),
      );
    } finally {
      await spamd.stop();
    }
  });
});

describe('startSpamd', { skip: SPAMD_SKIP, timeout: 120_000 }, () => {
  test('refuses options that are not what they say, naming them', async () => {
    await assert.rejects(startSpamd({ trustedNetworks: ['10.0.0.0/8\nuse_bayes 0'] }), /trustedNetworks entry "10\.0\.0\.0\/8\\nuse_bayes 0" is not an IP address or CIDR block/);
    await assert.rejects(startSpamd({ trustedNetworks: ['192.0.2.0/33'] }), /trustedNetworks entry "192\.0\.2\.0\/33"/);
    await assert.rejects(startSpamd({ children: 0 }), /children must be a whole number of at least 1, got 0/);
  });

  test('trustedNetworks are trusted: a relay there makes the mail ALL_TRUSTED', async () => {
    const spamd = await startSpamd({ trustedNetworks: ['203.0.113.0/24', '2001:db8::/32'] });
    try {
      const r = await check({ host: spamd.host, port: spamd.port }, message(mail('trusted relay', 'hello')), { signal: signal() });
      assert.ok(r.rules.some((h) => h.name === 'ALL_TRUSTED'), JSON.stringify(r.rules));
    } finally {
      await spamd.stop();
    }
  });
});
