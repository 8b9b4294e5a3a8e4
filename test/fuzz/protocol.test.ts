/**
 * Fuzz target `protocol`: the cluster wire protocol.
 *  - codec: decodeToMaster / decodeToScanner on random JSON, schema-shaped frames, mutations of
 *    real frames and garbage: a decoded frame, or a FrameError with its code and a message;
 *    never another exception.
 *  - link: a real WebSocket to a real master's /cluster, random frames before the handshake and
 *    after it (as a joined node). An invalid frame is answered by an `error` frame and a 1008
 *    (1009 when oversized, or over 4 KiB before the hello) close; a valid one leaves the link open (a ping still gets its pong);
 *    the master stays up and a real scanner still joins afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import fc from 'fast-check';
import { decodeToMaster, decodeToScanner, FrameError, ToMasterFrame, ToScannerFrame } from '@moat/protocol';
import { nodeHello, nodeKey } from '../helpers/node-hello.ts';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, joinTokenFor } from '../helpers/cluster-harness.ts';
import { waitUntil } from '../helpers/wait.ts';
import { anyJson, fromSchema, mutationsOf } from './arbitraries.ts';
import { PRE_HELLO_MAX_BYTES } from '../../apps/master/src/cluster/link-admission.ts';
import { fuzz } from './fuzz-runner.ts';

const QID = 'A1b2C3d4E5f6G7h8I9j0';
const REAL_TO_MASTER = [
  { type: 'heartbeat', at: 1, queueDepth: 0, outboxBacklog: 0, rulesVersion: 1 },
  { type: 'rules.ack', version: 1, ok: true },
  { type: 'error', code: 'MOAT_ERR_X', message: 'x' },
  { type: 'result', id: 'r1', ok: false, code: 'MOAT_ERR_NOT_FOUND', message: 'no' },
  { type: 'quarantine.chunk', id: 'q1', seq: 0, data: 'AAAA', last: true },
  {
    type: 'events.batch', id: 'b1', events: [
      { seq: 1, type: 'message.logged', createdAt: 1, payload: { id: QID, receivedAt: 1, clientIp: '127.0.0.1', helo: 'h', mailFrom: 'a@b.test', rcptTo: ['u@example.test'], subject: 's', messageId: '<m@x>', size: 10, action: 'deliver', score: 0, reasons: [], rulesVersion: 1, status: 'queued' } },
      { seq: 2, type: 'quarantine.changed', createdAt: 2, payload: { id: QID, status: 'released', at: 2 } },
    ],
  },
];

/** One frame as sent: text, or (binary) the latin1 bytes of `data`. */
interface Frame { readonly data: string; readonly binary: boolean }
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 3, arbitrary: fromSchema(ToMasterFrame).map((v) => ({ data: JSON.stringify(v) ?? 'null', binary: false })) },
  { weight: 4, arbitrary: fc.oneof(...REAL_TO_MASTER.map((f) => mutationsOf(f))).map((v) => ({ data: JSON.stringify(v) ?? 'null', binary: false })) },
  { weight: 2, arbitrary: fc.constantFrom(...REAL_TO_MASTER).map((v) => ({ data: JSON.stringify(v), binary: false })) },
  { weight: 1, arbitrary: anyJson.map((v) => ({ data: JSON.stringify(v) ?? 'null', binary: false })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }).map((data) => ({ data, binary: false })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((b) => ({ data: Buffer.from(b).toString('latin1'), binary: true })) },
);
const bytesOf = (f: Frame): Buffer => Buffer.from(f.data, f.binary ? 'latin1' : 'utf8');

function decodeOrError(decode: (raw: Buffer | string) => unknown, raw: Buffer | string): 'ok' | FrameError {
  try {
    decode(raw);
    return 'ok';
  } catch (err) {
    if (!(err instanceof FrameError)) throw new Error(`decoder threw ${(err as Error)?.name}, not a FrameError`, { cause: err });
    assert.match(err.code, /^MOAT_ERR_FRAME_(SIZE|JSON|SCHEMA)$/);
    assert.ok(err.message.length > 0 && err.message.length <= 1000);
    return err;
  }
}

test('fuzz protocol codec: a frame or a FrameError with a code', async () => {
  const toScanner = fc.oneof(fromSchema(ToScannerFrame), anyJson).map((v) => ({ data: JSON.stringify(v) ?? 'null', binary: false }));
  await fuzz({
    name: 'protocol-codec',
    defaultRuns: 3000,
    arbitrary: fc.record({ toMaster: frame, toScanner }),
    property({ toMaster, toScanner }) {
      for (const f of [toMaster, toScanner]) {
        decodeOrError(decodeToMaster, bytesOf(f));
        decodeOrError(decodeToScanner, bytesOf(f));
        if (!f.binary) decodeOrError(decodeToMaster, f.data);
      }
    },
  });
});

// ── the real master's /cluster ───────────────────────────────────────────────
type TestMaster = Awaited<ReturnType<typeof startTestMaster>>;
let master: TestMaster;
let downstream: Downstream;
let node: { id: string };
const key = nodeKey();
const NODE = 'fuzz-node';

interface Link { ws: WebSocket; frames: Record<string, unknown>[]; closed: Promise<number>; nonce: string }
async function openLink(): Promise<Link> {
  const ws = new WebSocket(master.wsUrl);
  const frames: Record<string, unknown>[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  let wake: () => void = () => undefined;
  ws.on('message', (d: Buffer) => {
    frames.push(JSON.parse(d.toString()) as Record<string, unknown>);
    wake();
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  if (frames.length === 0) await new Promise<void>((r) => (wake = r));
  const challenge = frames.shift() as { type: string; nonce: string };
  assert.equal(challenge.type, 'challenge');
  return { ws, frames, closed, nonce: challenge.nonce };
}
const hello = (nonce: string, join: { nodeId?: string; joinToken?: string }) => nodeHello({ nodeName: NODE, nonce, key, ...join, software: 'fuzz', rulesVersion: 1 });
const nextFrame = async (link: Link) => {
  await waitUntil(() => link.frames.length > 0 || link.ws.readyState !== WebSocket.OPEN, 'a frame');
  return link.frames.shift();
};

before(async () => {
  downstream = await startDownstream();
  master = await startTestMaster();
  const link = await openLink();
  link.ws.send(hello(link.nonce, { joinToken: await joinTokenFor(master, NODE) }));
  const welcome = (await nextFrame(link)) as { type: string; nodeId: string };
  assert.equal(welcome.type, 'welcome');
  node = { id: welcome.nodeId };
  link.ws.close();
  await link.closed;
});
after(async () => {
  await master.close();
  await downstream.close();
});

test('fuzz protocol link: invalid frames get an error frame and a close; the master stays up', async () => {
  let refused = 0;
  let kept = 0;
  await fuzz({
    name: 'protocol-link',
    defaultRuns: 150,
    warmup: 20,
    arbitrary: fc.record({ afterHandshake: fc.boolean(), frames: fc.array(frame, { minLength: 1, maxLength: 3 }) }),
    async property({ afterHandshake, frames }) {
      const link = await openLink();
      try {
        if (afterHandshake) {
          link.ws.send(hello(link.nonce, { nodeId: node.id }));
          const welcome = await nextFrame(link);
          assert.equal(welcome?.type, 'welcome', `handshake: ${JSON.stringify(welcome)}`);
          link.frames.length = 0; // a rules push may follow the welcome
        }
        // What the master must do, by the codec's own verdict on each frame, in order.
        let expectClose = false;
        let expectTooBig = false;
        for (const f of frames) {
          const raw = bytesOf(f);
          const verdict = decodeOrError(decodeToMaster, raw);
          link.ws.send(raw, { binary: f.binary });
          // Before the hello a frame over 4 KiB is cut off by the socket itself, unread (link-admission.ts).
          if (!afterHandshake && raw.length > PRE_HELLO_MAX_BYTES) { expectTooBig = true; break; }
          if (verdict !== 'ok') { expectClose = true; break; }
          const type = JSON.parse(raw.toString('utf8')).type as string;
          if (!afterHandshake || type === 'hello') { expectClose = true; break; } // hello first, and only once
        }
        if (expectTooBig) {
          assert.equal(await link.closed, 1009, `close code for ${JSON.stringify(frames).slice(0, 200)}`);
          refused++;
        } else if (expectClose) {
          const code = await link.closed;
          assert.equal(code, 1008, `close code for ${JSON.stringify(frames)}`);
          const error = link.frames.find((f) => f.type === 'error') as { code?: string; message?: string } | undefined;
          assert.ok(error, 'an error frame before the close');
          assert.match(String(error.code), /^MOAT_ERR_[A-Z_]+$/);
          assert.ok(String(error.message).length > 0);
          refused++;
        } else {
          // Every frame was valid: the link is still open and answers a ping.
          await new Promise<void>((resolve, reject) => {
            link.ws.once('pong', () => resolve());
            link.ws.once('close', (c) => reject(new Error(`the master closed a link after valid frames (${c}): ${JSON.stringify(link.frames)}`)));
            link.ws.ping();
          });
          assert.ok(!link.frames.some((f) => f.type === 'error'), `an error frame after valid frames: ${JSON.stringify(link.frames)}`);
          kept++;
        }
      } finally {
        link.ws.terminate();
        await link.closed;
      }
    },
  });
  console.log(`protocol-link: ${refused} links refused, ${kept} kept open`);
  assert.ok(refused > 0 && kept > 0, 'the generator reaches both outcomes');
  // Still up: health, the API, and a real scanner joins and gets its rules.
  assert.equal((await fetch(`${master.url}/healthz`)).status, 200);
  const s = await startClusterScanner('after-fuzz', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { name: string; online: boolean }) => n.name === 'after-fuzz' && n.online), 'the scanner online');
  } finally {
    await s.close();
  }
});
