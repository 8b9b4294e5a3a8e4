import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '@moat/protocol';
import { nodeHello, nodeKey } from '../helpers/node-hello.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, expectNeverReady, joinTokenFor } from '../helpers/cluster-harness.ts';
import { waitUntil } from '../helpers/wait.ts';
import { rawLink } from '../helpers/raw-link.ts';

// Rolling upgrades: the master and a scanner may differ by one protocol version (docs/operator-guide.md).

const hello = async (master: Awaited<ReturnType<typeof startTestMaster>>, protocol: number, nodeName: string, nonce: string) =>
  nodeHello({ protocol, nodeName, nonce, key: nodeKey(), joinToken: await joinTokenFor(master, nodeName) });

test('a master speaking one version ahead welcomes a hello in the older version, naming the version spoken', async () => {
  const master = await startTestMaster({ protocolVersion: PROTOCOL_VERSION + 1 });
  try {
    const link = await rawLink(master.wsUrl);
    assert.equal(link.challenge.protocol, PROTOCOL_VERSION + 1);
    link.ws.send(await hello(master, PROTOCOL_VERSION, 'older-node', link.challenge.nonce));
    await waitUntil(() => link.frames.some((f) => f.type === 'welcome'), 'the welcome');
    const welcome = link.frames.find((f) => f.type === 'welcome')!;
    assert.equal(welcome.protocol, PROTOCOL_VERSION, 'the welcome names the version the scanner speaks');
    link.ws.close();
    await link.closed;
  } finally {
    await master.close();
  }
});

test('a master refuses a hello two versions behind or one ahead, naming both versions', async () => {
  const ahead = await startTestMaster({ protocolVersion: PROTOCOL_VERSION + 2 });
  const current = await startTestMaster();
  try {
    const old = await rawLink(ahead.wsUrl);
    old.ws.send(await hello(ahead, PROTOCOL_VERSION, 'too-old', old.challenge.nonce));
    assert.equal(await old.closed, 1008);
    const refusal = old.frames.find((f) => f.type === 'error')!;
    assert.equal(refusal.code, 'MOAT_ERR_PROTOCOL');
    assert.equal(refusal.message, `too-old: scanner speaks protocol ${PROTOCOL_VERSION}, master speaks ${PROTOCOL_VERSION + 2} and accepts ${PROTOCOL_VERSION + 1} or ${PROTOCOL_VERSION + 2}: upgrade the scanner`);

    const newer = await rawLink(current.wsUrl);
    newer.ws.send(await hello(current, PROTOCOL_VERSION + 1, 'too-new', newer.challenge.nonce));
    assert.equal(await newer.closed, 1008);
    const err = newer.frames.find((f) => f.type === 'error')!;
    assert.equal(err.code, 'MOAT_ERR_PROTOCOL');
    assert.match(String(err.message), new RegExp(`scanner speaks protocol ${PROTOCOL_VERSION + 1}, master speaks ${PROTOCOL_VERSION} .*upgrade the master first`));
    assert.ok(!newer.frames.some((f) => f.type === 'welcome'));
  } finally {
    await ahead.close();
    await current.close();
  }
});

test('a real scanner joins a master one version ahead and gets its rules; two versions ahead it never does', async () => {
  const downstream = await startDownstream();
  const ahead = await startTestMaster({ protocolVersion: PROTOCOL_VERSION + 1 });
  const far = await startTestMaster({ protocolVersion: PROTOCOL_VERSION + 2 });
  try {
    const scanner = await startClusterScanner('rolling-1', ahead.wsUrl, downstream.port);
    try {
      const api = await apiClient(ahead.url);
      // Online with the current rules: the push and its ack crossed the negotiated link.
      await waitUntil(async () => (await api.get('/api/v1/nodes')).json?.items?.some((n: { name: string; online: boolean; rulesCurrent: boolean }) => n.name === 'rolling-1' && n.online && n.rulesCurrent), 'the scanner online with the current rules');
    } finally {
      await scanner.close();
    }
    assert.equal(await expectNeverReady((signal) => startClusterScanner('rolling-2', far.wsUrl, downstream.port, { signal })), 'waiting');
  } finally {
    await ahead.close();
    await far.close();
    await downstream.close();
  }
});
