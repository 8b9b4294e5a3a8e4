import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import * as packet from 'dns-packet';
import { startDnsStub, stubAnswer } from './dns-stub.ts';

/** The header's RCODE (dns-packet decodes it, its types do not name it). */
const rcode = (reply: Buffer) => ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][reply.readUInt16BE(2) & 0xf];
const query = (name: string, extra: Partial<packet.Packet> = {}) => packet.encode({ id: 4242, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }], ...extra });

test('stubAnswer: NXDOMAIN with the id and question echoed; NOTIMP for another opcode; FORMERR for garbage with a header; nothing for less', () => {
  const reply = stubAnswer(query('2.0.0.127.zen.spamhaus.org'))!;
  const a = packet.decode(reply);
  assert.equal(a.id, 4242);
  assert.equal(a.type, 'response');
  assert.equal(rcode(reply), 'NXDOMAIN');
  assert.equal(a.flag_rd, true, 'RD copied from the query');
  assert.deepEqual(a.questions, [{ name: '2.0.0.127.zen.spamhaus.org', type: 'A', class: 'IN' }]);
  assert.deepEqual(a.answers, []);

  const notify = query('example.test');
  notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2); // opcode 4: NOTIFY
  assert.equal(rcode(stubAnswer(notify)!), 'NOTIMP');

  const garbage = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x05]), Buffer.alloc(8, 0xff)]);
  const formerr = stubAnswer(garbage)!;
  assert.equal(formerr.readUInt16BE(0), 0x1234);
  assert.equal(rcode(formerr), 'FORMERR');

  assert.equal(stubAnswer(Buffer.from([1, 2, 3])), undefined);
  assert.equal(stubAnswer(packet.encode({ id: 1, type: 'response', questions: [] })), undefined, 'a response is not answered (no loops)');
});

test('startDnsStub: a resolver gets NXDOMAIN over UDP at once, and TCP answers on the same port', async (t) => {
  const dns = await startDnsStub();
  t.after(() => dns.stop());
  // One try and a time-out of 2 s: an answer that did not come would be ETIMEOUT, not ENOTFOUND.
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([dns.address]);
  await assert.rejects(resolver.resolve4('2.0.0.127.zen.spamhaus.org'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolveTxt('example.test'), { code: 'ENOTFOUND' });
  assert.equal(dns.answered(), 2);

  // TCP: two queries in one write, each answered with its length prefix.
  const framed = (q: Buffer) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
  const replies = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(dns.port, '127.0.0.1');
    let got = Buffer.alloc(0);
    s.on('connect', () => s.write(Buffer.concat([framed(query('one.test', { id: 1 })), framed(query('two.test', { id: 2 }))])));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const first = 2 + got.readUInt16BE(0);
      if (got.length > first + 2 && got.length >= first + 2 + got.readUInt16BE(first)) (s.end(), resolve(got));
    });
    s.on('error', reject);
  });
  const first = replies.subarray(2, 2 + replies.readUInt16BE(0));
  const second = replies.subarray(4 + first.length);
  assert.deepEqual([packet.decode(first).id, rcode(first)], [1, 'NXDOMAIN']);
  assert.deepEqual([packet.decode(second).id, packet.decode(second).questions?.[0]?.name], [2, 'two.test']);
  assert.equal(dns.answered(), 4);
});
