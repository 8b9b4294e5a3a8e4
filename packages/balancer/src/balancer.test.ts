import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startBalancer, type BalancerHandle } from './balancer.ts';
import { validateBalancerConfig } from './config.ts';
import { fakeUpstream, freePort, memoryLog, smtpSession, waitFor, type FakeUpstream } from './test-helpers.ts';

/**
 * Two balancer nodes elect the holder of the virtual address 127.0.0.100:PORT: only the
 * master listens; when it dies the other opens the listener and clients keep getting 220s.
 */
const VIP = '127.0.0.100';
const handles = new Set<BalancerHandle>();
const ups: FakeUpstream[] = [];
after(async () => {
  await Promise.all([...handles].map((h) => h.close({ abrupt: true })));
  await Promise.all(ups.map((u) => u.kill()));
});

test('balancer + election: only the holder listens on the virtual address; failover moves it', async () => {
  const [a, b] = await Promise.all([fakeUpstream('scan-a'), fakeUpstream('scan-b')]);
  ups.push(a, b);
  const vipPort = await freePort(VIP, false);
  const hosts = ['127.0.0.1', '127.0.0.2'];
  const udp = [await freePort(hosts[0]!, true), await freePort(hosts[1]!, true)];
  const start = (i: number, priority: number) =>
    startBalancer(
      validateBalancerConfig({
        listen: { host: VIP, port: vipPort },
        upstreams: [
          { name: 'scan-a', host: '127.0.0.1', port: a.port },
          { name: 'scan-b', host: '127.0.0.1', port: b.port },
        ],
        election: {
          nodeId: `lb${i}`, priority, advertIntervalMs: 100, key: 'balancer-test-key-0123',
          bind: { host: hosts[i], port: udp[i] }, peers: [{ host: hosts[1 - i], port: udp[1 - i] }],
        },
      }),
      { log: memoryLog() },
    );
  const n1 = await start(0, 200);
  const n2 = await start(1, 100);
  handles.add(n1).add(n2);

  assert.ok(await waitFor(() => n1.status().holder), 'the 200 node holds the address');
  assert.equal(n2.status().holder, false);
  assert.equal(n2.status().election?.state, 'backup');
  assert.match((await smtpSession(vipPort, VIP)).greeting, /^220 scan-[ab] ready$/);

  await n1.close({ abrupt: true });
  handles.delete(n1);
  assert.ok(await waitFor(() => n2.status().holder), 'the 100 node took the address');
  const results = await Promise.all([1, 2, 3, 4].map(() => smtpSession(vipPort, VIP)));
  assert.ok(results.every((r) => r.greeting.startsWith('220') && r.quit.startsWith('221')));

  assert.ok(await waitFor(() => n2.status().upstreams.every((u) => u.activeConns === 0)), 'sessions released');
  const s = n2.status();
  assert.equal(s.election?.state, 'master');
  assert.deepEqual(s.listen, { host: VIP, port: vipPort });
  assert.deepEqual(s.upstreams.map((u) => [u.name, u.healthy, u.usable, u.activeConns]), [['scan-a', true, true, 0], ['scan-b', true, true, 0]]);
});

test('balancer without election: always the holder; updateUpstream drains a node', async () => {
  const [a, b] = await Promise.all([fakeUpstream('a'), fakeUpstream('b')]);
  ups.push(a, b);
  const h = await startBalancer(
    validateBalancerConfig({ listen: { host: VIP, port: 0 }, upstreams: [{ name: 'a', host: '127.0.0.1', port: a.port }, { name: 'b', host: '127.0.0.1', port: b.port }] }),
    { log: memoryLog() },
  );
  handles.add(h);
  const port = h.status().listen?.port ?? 0;
  h.updateUpstream('a', { down: true });
  for (let i = 0; i < 6; i++) assert.equal((await smtpSession(port, VIP)).greeting, '220 b ready');
  assert.equal(a.greeted, 0);
  h.updateUpstream('a', { down: false });
  for (let i = 0; i < 4; i++) await smtpSession(port, VIP);
  assert.ok(a.greeted >= 1);
});
