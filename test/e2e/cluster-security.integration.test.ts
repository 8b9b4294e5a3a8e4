import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { helloProof, PROTOCOL_VERSION } from '@moat/protocol';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, expectNeverReady, JOIN_SECRET } from '../helpers/cluster-harness.ts';
import { waitUntil } from '../helpers/wait.ts';
import { rawLink } from '../helpers/raw-link.ts';

type TestMaster = Awaited<ReturnType<typeof startTestMaster>>;
let master: TestMaster;
let downstream: Downstream;

before(async () => {
  downstream = await startDownstream();
  master = await startTestMaster();
});
after(async () => {
  await master.close();
  await downstream.close();
});

const hello = (nodeName: string, key: string, nonce: string, nodeId?: string) => JSON.stringify({
  type: 'hello', protocol: PROTOCOL_VERSION, nodeName, ...(nodeId ? { nodeId } : {}), proof: helloProof(key, nodeName, nonce), software: 'test', rulesVersion: 0, smtpAddress: '127.0.0.1:1',
});

test('a wrong join secret is refused with an error frame and a close', async () => {
  const link = await rawLink(master.wsUrl);
  link.ws.send(hello('intruder', 'not-the-join-secret-at-all', link.nonce));
  assert.equal(await link.closed, 1008);
  assert.deepEqual(link.frames.map((f) => f.type), ['challenge', 'error']);
  assert.equal(link.frames[1]!.code, 'MOAT_ERR_JOIN_REFUSED');
});

test('a replayed hello (an old nonce) and a forged credential are refused', async () => {
  const first = await rawLink(master.wsUrl);
  const valid = hello('replay-node', JOIN_SECRET, first.nonce);
  first.ws.send(valid);
  await waitUntil(() => first.frames.some((f) => f.type === 'welcome'), 'the welcome');
  const welcome = first.frames.find((f) => f.type === 'welcome') as { nodeId: string; credential: string };
  assert.match(welcome.credential, /^[0-9a-f]{64}$/);
  first.ws.close();
  await first.closed;

  const replay = await rawLink(master.wsUrl);
  replay.ws.send(valid);
  assert.equal(await replay.closed, 1008);
  assert.equal(replay.frames[1]!.code, 'MOAT_ERR_JOIN_REFUSED');

  const forged = await rawLink(master.wsUrl);
  forged.ws.send(hello('replay-node', 'f'.repeat(64), forged.nonce, welcome.nodeId));
  assert.equal(await forged.closed, 1008);
  assert.equal(forged.frames[1]!.code, 'MOAT_ERR_NODE_AUTH');

  const genuine = await rawLink(master.wsUrl);
  genuine.ws.send(hello('replay-node', welcome.credential, genuine.nonce, welcome.nodeId));
  await waitUntil(() => genuine.frames.some((f) => f.type === 'welcome'), 'welcome with the stored credential');
  assert.equal((genuine.frames.find((f) => f.type === 'welcome') as { credential?: string }).credential, undefined, 'a credential is issued only at a join');
  genuine.ws.close();
});

test('invalid frames close the link without harm; the master and other nodes carry on', async () => {
  const s = await startClusterScanner('steady', master.wsUrl, downstream.port);
  try {
    const cases: [string, (ws: WebSocket) => void, number][] = [
      ['bad JSON', (ws) => ws.send('{nope'), 1008],
      ['wrong type', (ws) => ws.send(JSON.stringify({ type: 'launch.missiles' })), 1008],
      ['a frame before hello', (ws) => ws.send(JSON.stringify({ type: 'heartbeat', at: 1 })), 1008],
      ['oversized', (ws) => ws.send(Buffer.alloc(5 * 1024 * 1024, 0x20)), 1009],
    ];
    for (const [what, send, code] of cases) {
      const link = await rawLink(master.wsUrl);
      send(link.ws);
      assert.equal(await link.closed, code, what);
    }
    const health = await fetch(`${master.url}/healthz`);
    assert.equal(health.status, 200);
    const api = await apiClient(master.url);
    const steady = (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'steady');
    assert.equal(steady.online, true, 'a well-behaved node stays online');
  } finally {
    await s.close();
  }
});

test('a scanner with a wrong join secret does not join and does not accept mail', async () => {
  const outcome = await expectNeverReady((signal) => startClusterScanner('wrong-secret', master.wsUrl, downstream.port, { joinSecret: 'wrong-secret-0123456789abcdef', signal }));
  assert.equal(outcome, 'waiting', 'without rules from the master it never listens');
  const api = await apiClient(master.url);
  assert.ok(!(await api.get('/api/v1/nodes')).json.items.some((n: { name: string }) => n.name === 'wrong-secret'));
});

test('plain HTTP to /cluster is a 426 in the API error shape, not an empty 404 (found by fuzzing)', async () => {
  const res = await fetch(`${master.url}/cluster`);
  assert.equal(res.status, 426);
  assert.equal(res.headers.get('upgrade'), 'websocket');
  assert.equal(((await res.json()) as { code: string }).code, 'MOAT_ERR_UPGRADE_REQUIRED');
});
