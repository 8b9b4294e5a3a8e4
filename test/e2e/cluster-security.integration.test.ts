import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createPrivateKey } from 'node:crypto';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, expectNeverReady, joinTokenFor } from '../helpers/cluster-harness.ts';
import { nodeHello, nodeKey } from '../helpers/node-hello.ts';
import { waitUntil } from '../helpers/wait.ts';
import { rawLink } from '../helpers/raw-link.ts';
import { storedBytes } from '../helpers/test-master-db.ts';

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

const welcomeOf = async (link: Awaited<ReturnType<typeof rawLink>>) => {
  await waitUntil(() => link.frames.some((f) => f.type === 'welcome' || f.type === 'error'), 'the answer to the hello');
  const error = link.frames.find((f) => f.type === 'error');
  assert.equal(error, undefined, `refused: ${JSON.stringify(error)}`);
  return link.frames.find((f) => f.type === 'welcome') as { nodeId: string };
};
const refusal = async (link: Awaited<ReturnType<typeof rawLink>>) => {
  assert.equal(await link.closed, 1008);
  assert.ok(!link.frames.some((f) => f.type === 'welcome'), 'no welcome');
  return link.frames.find((f) => f.type === 'error') as { code: string; message: string };
};

test('a hello without a valid join token is refused with an error frame and a close', async () => {
  const key = nodeKey();
  const unknown = await rawLink(master.wsUrl);
  unknown.ws.send(nodeHello({ nodeName: 'intruder', nonce: unknown.nonce, key, joinToken: `moat-join-${'0'.repeat(64)}` }));
  const e = await refusal(unknown);
  assert.equal(e.code, 'MOAT_ERR_JOIN_REFUSED');
  assert.match(e.message, /unknown join token/);
  // A version-1 hello (an HMAC under the old shared join secret) is told to upgrade.
  const v1 = await rawLink(master.wsUrl);
  v1.ws.send(JSON.stringify({ type: 'hello', protocol: 1, nodeName: 'old-node', proof: 'a'.repeat(64), software: 'old', rulesVersion: 0, smtpAddress: '127.0.0.1:1' }));
  assert.equal((await refusal(v1)).code, 'MOAT_ERR_PROTOCOL');
});

test('a join token joins once; a reused, expired or other-name token is refused', async () => {
  const key = nodeKey();
  const token = await joinTokenFor(master, 'once-node', { replace: false });
  const first = await rawLink(master.wsUrl);
  const join = nodeHello({ nodeName: 'once-node', nonce: first.nonce, key, joinToken: token });
  first.ws.send(join);
  const welcome = await welcomeOf(first);
  assert.match(welcome.nodeId, /^[0-9a-f]{16}$/);
  assert.equal((welcome as { credential?: string }).credential, undefined, 'the master hands out no secret');
  first.ws.close();
  await first.closed;

  // The same hello again (an old nonce), and the token with a fresh signature: both refused.
  const replay = await rawLink(master.wsUrl);
  replay.ws.send(join);
  assert.equal((await refusal(replay)).code, 'MOAT_ERR_JOIN_REFUSED');
  const reuse = await rawLink(master.wsUrl);
  reuse.ws.send(nodeHello({ nodeName: 'once-node-2', nonce: reuse.nonce, key: nodeKey(), joinToken: token }));
  assert.match((await refusal(reuse)).message, /already used/);

  // Made two hours ago for an hour: expired.
  const expired = await master.hub.joinTokens.mint('late-node', { ttlSeconds: 3600, replace: false, createdBy: 'test', now: Date.now() - 2 * 3600_000 });
  assert.ok(expired.ok);
  const late = await rawLink(master.wsUrl);
  late.ws.send(nodeHello({ nodeName: 'late-node', nonce: late.nonce, key: nodeKey(), joinToken: expired.minted.token }));
  assert.match((await refusal(late)).message, /expired/);

  // A token is for one name only; refused, it is not used up.
  const forB = await joinTokenFor(master, 'node-b', { replace: false });
  const wrongName = await rawLink(master.wsUrl);
  wrongName.ws.send(nodeHello({ nodeName: 'node-c', nonce: wrongName.nonce, key: nodeKey(), joinToken: forB }));
  assert.match((await refusal(wrongName)).message, /another node name/);
  const rightName = await rawLink(master.wsUrl);
  rightName.ws.send(nodeHello({ nodeName: 'node-b', nonce: rightName.nonce, key: nodeKey(), joinToken: forB }));
  await welcomeOf(rightName);
  rightName.ws.close();

  // A hello signed by another key than the one it presents proves nothing.
  const forD = await joinTokenFor(master, 'node-d', { replace: false });
  const mismatched = await rawLink(master.wsUrl);
  const signer = nodeKey();
  mismatched.ws.send(JSON.stringify({ ...JSON.parse(nodeHello({ nodeName: 'node-d', nonce: mismatched.nonce, key: signer, joinToken: forD })), publicKey: nodeKey().publicKey }));
  assert.match((await refusal(mismatched)).message, /not signed by the key it presents/);
});

test("a node's name cannot be taken over: not by a second join, not with its node id; only an admin's replace token re-keys it", async () => {
  const api = await apiClient(master.url);
  const key = nodeKey();
  const owner = await rawLink(master.wsUrl);
  owner.ws.send(nodeHello({ nodeName: 'owned', nonce: owner.nonce, key, joinToken: await joinTokenFor(master, 'owned', { replace: false }) }));
  const { nodeId } = await welcomeOf(owner);

  // The API will not make a plain token for a name in the cluster, and the hub will not honour one.
  const plain = await api.post('/api/v1/nodes/join-tokens', { node: 'owned' });
  assert.equal(plain.status, 409, plain.text);
  assert.equal(plain.json.code, 'MOAT_ERR_NODE_EXISTS');
  await assert.rejects(joinTokenFor(master, 'owned', { replace: false }), /replace/);

  const thief = nodeKey();
  const byId = await rawLink(master.wsUrl);
  byId.ws.send(nodeHello({ nodeName: 'owned', nonce: byId.nonce, key: thief, nodeId }));
  assert.equal((await refusal(byId)).code, 'MOAT_ERR_NODE_AUTH');

  // The owner's session was not replaced: it still gets answers.
  owner.ws.send(JSON.stringify({ type: 'heartbeat', at: Date.now() }));
  await waitUntil(() => owner.frames.some((f) => f.type === 'heartbeat'), 'the owner still served');
  assert.equal(owner.ws.readyState, WebSocket.OPEN);

  // The admin's explicit action: a replace token (audited) gives the name a new key.
  const made = await api.post('/api/v1/nodes/join-tokens', { node: 'owned', replace: true, ttlSeconds: 600 });
  assert.equal(made.status, 201, made.text);
  const successor = await rawLink(master.wsUrl);
  successor.ws.send(nodeHello({ nodeName: 'owned', nonce: successor.nonce, key: thief, joinToken: made.json.token }));
  assert.equal((await welcomeOf(successor)).nodeId, nodeId, 'same node, new key');
  assert.equal(await owner.closed, 1000, 'the old session is closed');
  const oldKey = await rawLink(master.wsUrl);
  oldKey.ws.send(nodeHello({ nodeName: 'owned', nonce: oldKey.nonce, key, nodeId }));
  assert.equal((await refusal(oldKey)).code, 'MOAT_ERR_NODE_AUTH');
  successor.ws.close();
  await successor.closed;
});

test('a removed node cannot come back with its key or its old token; a new token brings it back', async () => {
  const api = await apiClient(master.url);
  const key = nodeKey();
  const token = await joinTokenFor(master, 'gone', { replace: false });
  const first = await rawLink(master.wsUrl);
  first.ws.send(nodeHello({ nodeName: 'gone', nonce: first.nonce, key, joinToken: token }));
  const { nodeId } = await welcomeOf(first);
  first.ws.close();
  await first.closed;
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { id: string; online: boolean }) => n.id === nodeId && !n.online), 'offline');
  assert.equal((await api.del(`/api/v1/nodes/${nodeId}`)).status, 200);

  const withKey = await rawLink(master.wsUrl);
  withKey.ws.send(nodeHello({ nodeName: 'gone', nonce: withKey.nonce, key, nodeId }));
  assert.equal((await refusal(withKey)).code, 'MOAT_ERR_NODE_AUTH');
  const withToken = await rawLink(master.wsUrl);
  withToken.ws.send(nodeHello({ nodeName: 'gone', nonce: withToken.nonce, key, joinToken: token }));
  assert.match((await refusal(withToken)).message, /already used/);

  const again = await api.post('/api/v1/nodes/join-tokens', { node: 'gone' });
  assert.equal(again.status, 201, again.text);
  const back = await rawLink(master.wsUrl);
  back.ws.send(nodeHello({ nodeName: 'gone', nonce: back.nonce, key, joinToken: again.json.token }));
  assert.equal((await welcomeOf(back)).nodeId, nodeId, 'it comes back under its old id');
  back.ws.close();
  await back.closed;
});

test("the master's database holds no secret a node could be impersonated with", async () => {
  const key = nodeKey();
  const token = await joinTokenFor(master, 'keyed');
  const link = await rawLink(master.wsUrl);
  link.ws.send(nodeHello({ nodeName: 'keyed', nonce: link.nonce, key, joinToken: token }));
  await welcomeOf(link);
  link.ws.close();
  await link.closed;
  const row = await master.database.db.selectFrom('nodes').selectAll().where('name', '=', 'keyed').executeTakeFirstOrThrow();
  assert.equal(row.public_key, key.publicKey);
  assert.equal(row.credential_hash, '', 'no shared key kept');
  const dbBytes = await storedBytes(master);
  const privateRaw = createPrivateKey(key.privateKeyPem).export({ format: 'jwk' }).d!;
  for (const [what, secret] of [['the join token', token], ['the private key (jwk d)', privateRaw], ['the private key (der)', createPrivateKey(key.privateKeyPem).export({ type: 'pkcs8', format: 'der' }).subarray(-32).toString('hex')]] as const) {
    assert.ok(!dbBytes.includes(Buffer.from(secret)), `${what} is not in the database`);
  }
  assert.ok(!dbBytes.includes(createPrivateKey(key.privateKeyPem).export({ type: 'pkcs8', format: 'der' }).subarray(-32)), 'nor the raw private key bytes');
});

test('join tokens through the API: admin only, the field named on bad input, audited without the token', async () => {
  const api = await apiClient(master.url);
  const bad = await api.post('/api/v1/nodes/join-tokens', { node: 'no spaces allowed' });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.json), /node/);
  const badTtl = await api.post('/api/v1/nodes/join-tokens', { node: 'ttl-node', ttlSeconds: 10 });
  assert.equal(badTtl.status, 400);
  assert.match(JSON.stringify(badTtl.json), /ttlSeconds/);
  assert.equal((await api.post('/api/v1/users', { username: 'op', password: 'operator-password-1', role: 'operator' })).status, 201);
  const op = await apiClient(master.url, 'op', 'operator-password-1');
  assert.equal((await op.post('/api/v1/nodes/join-tokens', { node: 'op-node' })).status, 403);
  const made = await api.post('/api/v1/nodes/join-tokens', { node: 'audited-node', ttlSeconds: 120 });
  assert.equal(made.status, 201, made.text);
  assert.match(made.json.token, /^moat-join-[0-9a-f]{64}$/);
  assert.ok(Date.parse(made.json.expiresAt) > Date.now());
  const audit = await api.get('/api/v1/audit?action=node.join-token');
  const entry = audit.json.entries.find((e: { target: string }) => e.target === 'node:audited-node');
  assert.ok(entry, audit.text);
  assert.ok(!audit.text.includes(made.json.token), 'the token is not in the audit log');
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

test('a scanner with a wrong join token does not join and does not accept mail', async () => {
  const outcome = await expectNeverReady((signal) => startClusterScanner('wrong-secret', master.wsUrl, downstream.port, { joinToken: `moat-join-${'f'.repeat(64)}`, signal }));
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
