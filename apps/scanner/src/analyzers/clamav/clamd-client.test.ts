import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ClamdError, parseReply, scanStream } from './clamd-client.ts';

/** A fake clamd on loopback: parses the INSTREAM framing and lets the test answer. */
async function fakeClamd(answer: (body: Buffer, socket: Socket) => void, opts: { answerAfterBytes?: number } = {}): Promise<{ server: Server; port: number; bodies: Buffer[]; lengths: number[][] }> {
  const bodies: Buffer[] = [];
  const lengths: number[][] = [];
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    let commandSeen = false;
    const parts: Buffer[] = [];
    const lens: number[] = [];
    let total = 0;
    let done = false;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]);
      if (!commandSeen) {
        if (buf.length < 10) return;
        assert.equal(buf.subarray(0, 10).toString('latin1'), 'zINSTREAM\0');
        commandSeen = true;
        buf = buf.subarray(10);
      }
      while (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (buf.length < 4 + n) return;
        lens.push(n);
        if (n === 0) {
          done = true;
          bodies.push(Buffer.concat(parts));
          lengths.push(lens);
          return answer(Buffer.concat(parts), socket);
        }
        parts.push(buf.subarray(4, 4 + n));
        total += n;
        buf = buf.subarray(4 + n);
        if (opts.answerAfterBytes !== undefined && total >= opts.answerAfterBytes) {
          done = true;
          bodies.push(Buffer.concat(parts));
          lengths.push(lens);
          return answer(Buffer.concat(parts), socket);
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, bodies, lengths };
}

const signal = () => AbortSignal.timeout(5000);
const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

describe('parseReply', () => {
  const rows: [string, string][] = [
    ['stream: OK', 'clean'],
    ['stream: Eicar-Test-Signature FOUND', 'Eicar-Test-Signature'],
    ['stream: Win.Test.EICAR_HDB-1 FOUND', 'Win.Test.EICAR_HDB-1'],
    ['INSTREAM size limit exceeded. ERROR', 'too-large'],
    ['Can\'t allocate memory ERROR', 'error'],
    ['UNKNOWN COMMAND', 'protocol'],
  ];
  for (const [line, expected] of rows) {
    it(line, () => {
      const [err, result] = parseReply(`${line}\0`);
      const got = err ? (err as ClamdError).code : result!.infected ? result!.name : 'clean';
      assert.equal(got, expected);
    });
  }
});

describe('scanStream against a fake clamd', () => {
  it('frames the stream in chunks with 4-byte big-endian lengths and a zero terminator; the body arrives unchanged', async () => {
    const fake = await fakeClamd((_b, s) => s.end('stream: OK\0'));
    servers.push(fake.server);
    const data = Buffer.alloc(300_000, 7);
    const result = await scanStream({ host: '127.0.0.1', port: fake.port }, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { signal: signal(), chunkBytes: 65536 });
    assert.deepEqual(result, { infected: false });
    assert.ok(fake.bodies[0]!.equals(data));
    assert.ok(fake.lengths[0]!.every((n) => n <= 65536));
    assert.equal(fake.lengths[0]!.at(-1), 0);
  });
  it('reports a virus by name', async () => {
    const fake = await fakeClamd((_b, s) => s.end('stream: Test.Virus FOUND\0'));
    servers.push(fake.server);
    assert.deepEqual(await scanStream({ host: '127.0.0.1', port: fake.port }, Readable.from([Buffer.from('x')]), { signal: signal() }), { infected: true, name: 'Test.Virus' });
  });
  it('stops sending when clamd answers early (its StreamMaxLength) and reports too-large', async () => {
    const fake = await fakeClamd((_b, s) => s.write('INSTREAM size limit exceeded. ERROR\0'), { answerAfterBytes: 100_000 });
    servers.push(fake.server);
    let read = 0;
    const source = Readable.from((function* () { for (let i = 0; i < 1000; i++) { read += 65536; yield Buffer.alloc(65536); } })());
    await assert.rejects(scanStream({ host: '127.0.0.1', port: fake.port }, source, { signal: signal() }), (e: ClamdError) => e.code === 'too-large');
    assert.ok(read < 10 * 65536, `stopped reading the source early (read ${read} bytes)`);
  });
  it('a clamd that never answers: the signal ends the scan as a time-out', async () => {
    const fake = await fakeClamd(() => undefined);
    servers.push(fake.server);
    await assert.rejects(scanStream({ host: '127.0.0.1', port: fake.port }, Readable.from([Buffer.from('x')]), { signal: AbortSignal.timeout(100) }), (e: ClamdError) => e.code === 'timeout');
  });
  it('nothing listening: unreachable', async () => {
    const fake = await fakeClamd(() => undefined);
    const { port } = fake;
    await new Promise((r) => fake.server.close(r));
    await assert.rejects(scanStream({ host: '127.0.0.1', port }, Readable.from([Buffer.from('x')]), { signal: signal() }), (e: ClamdError) => e.code === 'unreachable');
  });
});
