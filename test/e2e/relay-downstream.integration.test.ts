import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createDownstream } from '../../apps/scanner/src/relay/downstream.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { freePort } from '../helpers/ports.ts';

const settings = (port: number) => ({ host: '127.0.0.1', port, secure: false, requireTls: false, rejectUnauthorized: true, maxConnections: 2, timeoutMs: 5000, hostname: 'scanner.test' });

test('the pooled relay sends the bytes it is given, reuses its connections and reports refusals per recipient', async (t) => {
  const server = await startDownstream({ rcpt: (a) => (a.startsWith('nobody@') ? { code: 550, text: '5.1.1 No such user' } : undefined) });
  const relay = createDownstream(settings(server.port));
  t.after(async () => {
    relay.close();
    await server.close();
  });
  const body = (n: number) => Buffer.from(`Subject: m${n}\r\nX-Dots: yes\r\n\r\n.leading dot\r\nline ${n}\r\n`);
  let opened = 0;
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, n) => relay.send({ from: 'a@example.test', to: ['bob@example.test', ...(n === 0 ? ['nobody@example.test'] : [])] }, () => {
      opened++;
      return Readable.from([body(n)]);
    }, `QUEUEID${n}`)),
  );
  assert.equal(opened, 6, 'each message opened once');
  assert.deepEqual(results[0], { accepted: ['bob@example.test'], refused: [{ address: 'nobody@example.test', code: 550, text: '550 5.1.1 No such user' }] });
  for (const r of results.slice(1)) assert.deepEqual(r, { accepted: ['bob@example.test'], refused: [] });
  await server.waitFor(6);
  const got = server.received.map((m) => m.raw.toString()).sort();
  assert.deepEqual(got, Array.from({ length: 6 }, (_, n) => body(n).toString()).sort(), 'byte for byte (the dot unstuffed again by the server)');
});

test('with the downstream down every recipient is refused without a code and the message is never opened', async (t) => {
  const relay = createDownstream(settings(await freePort()));
  t.after(() => relay.close());
  let opened = 0;
  const result = await relay.send({ from: 'a@example.test', to: ['bob@example.test', 'carol@example.test'] }, () => {
    opened++;
    return Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]);
  }, 'QUEUEIDDOWN');
  assert.equal(opened, 0);
  assert.deepEqual(result.accepted, []);
  assert.deepEqual(result.refused.map((r) => [r.address, r.code]), [['bob@example.test', undefined], ['carol@example.test', undefined]]);
  assert.match(result.refused[0]!.text, /ECONNREFUSED/);
});

test('a whole-message refusal at DATA refuses every recipient with its code', async (t) => {
  const server = await startDownstream({ data: () => ({ code: 452, text: '4.3.1 Insufficient storage' }) });
  const relay = createDownstream(settings(server.port));
  t.after(async () => {
    relay.close();
    await server.close();
  });
  const result = await relay.send({ from: 'a@example.test', to: ['bob@example.test'] }, () => Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]), 'QUEUEIDFULL');
  assert.deepEqual(result.accepted, []);
  assert.equal(result.refused[0]?.code, 452);
  assert.match(result.refused[0]!.text, /Insufficient storage/);
});

test('an envelope the SMTP client itself refuses is a permanent failure (553), nothing sent', async (t) => {
  const server = await startDownstream();
  const relay = createDownstream(settings(server.port));
  t.after(async () => {
    relay.close();
    await server.close();
  });
  let opened = 0;
  const open = () => {
    opened++;
    return Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]);
  };
  const badRcpt = await relay.send({ from: 'a@example.test', to: ['bad<rcpt@example.test'] }, open, 'QUEUEIDBADRCPT');
  assert.equal(badRcpt.refused[0]?.code, 553);
  assert.match(badRcpt.refused[0]!.text, /^5\.1\.3 /);
  const badFrom = await relay.send({ from: 'bad>from@example.test', to: ['bob@example.test'] }, open, 'QUEUEIDBADFROM');
  assert.equal(badFrom.refused[0]?.code, 553);
  assert.match(badFrom.refused[0]!.text, /^5\.1\.7 /);
  assert.equal(opened, 2, 'opened once per message, when a connection took it');
  assert.equal(server.received.length, 0);
});
