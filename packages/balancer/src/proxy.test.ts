import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startBalancer, type BalancerHandle } from './balancer.ts';
import { validateBalancerConfig, type UpstreamConfig } from './config.ts';
import { ALL_DOWN_REPLY } from './proxy.ts';
import { bounded, fakeUpstream, memoryLog, smtpSession, waitFor, type FakeUpstream } from './test-helpers.ts';

const VIP = '127.0.0.100';
const open: BalancerHandle[] = [];
const ups: FakeUpstream[] = [];
after(async () => {
  await Promise.all(open.map((b) => b.close()));
  await Promise.all(ups.map((u) => u.kill().catch(() => {})));
});

async function upstream(name: string, behaviour: 'smtp' | 'silent' | 'reject' = 'smtp') {
  const u = await fakeUpstream(name, behaviour);
  ups.push(u);
  return u;
}

async function balancer(upstreams: Array<Partial<UpstreamConfig> & { u: FakeUpstream }>, extra: Record<string, unknown> = {}) {
  const log = memoryLog();
  const config = validateBalancerConfig({
    listen: { host: VIP, port: 0 },
    connectTimeoutMs: 1000,
    greetingTimeoutMs: 500,
    upstreams: upstreams.map(({ u, ...rest }) => ({ name: u.name, host: '127.0.0.1', port: u.port, ...rest })),
    ...extra,
  });
  const b = await startBalancer(config, { log });
  open.push(b);
  const port = b.status().listen?.port;
  assert.ok(port);
  return { b, port, log };
}

test('distribution: weights 3/1/1 over 1,000 connections ≈ 60/20/20; a down upstream gets none', async () => {
  const [a, b, c, d] = await Promise.all([upstream('a'), upstream('b'), upstream('c'), upstream('d')]);
  const { port, b: lb } = await balancer([{ u: a!, weight: 3 }, { u: b! }, { u: c! }, { u: d!, down: true, weight: 5 }]);
  const results = await bounded(1000, 20, () => smtpSession(port, VIP));
  assert.equal(results.filter((r) => r.greeting.startsWith('220') && r.quit.startsWith('221')).length, 1000);
  const share = (u: FakeUpstream) => u.greeted / 1000;
  assert.ok(Math.abs(share(a!) - 0.6) < 0.03, `a ${share(a!)}`);
  assert.ok(Math.abs(share(b!) - 0.2) < 0.03, `b ${share(b!)}`);
  assert.ok(Math.abs(share(c!) - 0.2) < 0.03, `c ${share(c!)}`);
  assert.equal(d!.greeted, 0);
  assert.ok(await waitFor(() => lb.status().upstreams.every((u) => u.activeConns === 0)), 'connections released');
});

test('backup: no traffic while a primary lives; all of it once both primaries are dead', async () => {
  const [a, b, z] = await Promise.all([upstream('a'), upstream('b'), upstream('z')]);
  const { port } = await balancer([{ u: a! }, { u: b! }, { u: z!, backup: true }]);
  await bounded(40, 8, () => smtpSession(port, VIP));
  assert.equal(z!.greeted, 0);
  await a!.kill();
  await bounded(40, 8, () => smtpSession(port, VIP));
  assert.equal(z!.greeted, 0, 'one primary left');
  await b!.kill();
  const results = await bounded(40, 8, () => smtpSession(port, VIP));
  assert.ok(results.every((r) => r.greeting === '220 z ready'), JSON.stringify(results.find((r) => r.greeting !== '220 z ready')));
});

test('greeting gate: an upstream that accepts but never greets, or greets 554, is skipped unseen', async () => {
  const [silent, reject, good] = await Promise.all([upstream('silent', 'silent'), upstream('reject', 'reject'), upstream('good')]);
  const { port, b: lb } = await balancer([{ u: silent!, maxFails: 1, failTimeoutMs: 60_000 }, { u: reject!, failTimeoutMs: 60_000 }, { u: good! }]);
  const results = await bounded(30, 6, () => smtpSession(port, VIP));
  assert.ok(results.every((r) => r.greeting === '220 good ready' && r.quit.startsWith('221')));
  const c = lb.status().counters;
  assert.ok((c.failures['greeting-timeout'] ?? 0) >= 1);
  assert.ok((c.failures['bad-greeting'] ?? 0) >= 1);
});

test('failover: an upstream killed during a stream of sessions; every client still gets a 220', async () => {
  const [a, b, c] = await Promise.all([upstream('a'), upstream('b'), upstream('c')]);
  const { port } = await balancer([{ u: a! }, { u: b! }, { u: c! }]);
  const results = await bounded(300, 10, async (i) => {
    if (i === 100) await b!.kill();
    return smtpSession(port, VIP);
  });
  const bad = results.filter((r) => !r.greeting.startsWith('220'));
  assert.equal(bad.length, 0, JSON.stringify(bad.slice(0, 3)));
  assert.ok(a!.greeted + c!.greeted >= 200);
});

test('all upstreams dead → 421 4.3.2 and a close', async () => {
  const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
  const { port, b: lb } = await balancer([{ u: a! }, { u: b! }]);
  await Promise.all([a!.kill(), b!.kill()]);
  const r = await smtpSession(port, VIP);
  assert.equal(r.greeting, ALL_DOWN_REPLY.trimEnd());
  assert.equal(r.quit, 'closed');
  assert.equal(lb.status().counters.rejected, 1);
});

test('PROXY v1: the upstream sees the real client address (client bound to 127.0.0.5)', async () => {
  const a = await upstream('a');
  const { port } = await balancer([{ u: a }]);
  const r = await smtpSession(port, VIP, '127.0.0.5');
  assert.equal(r.greeting, '220 a ready');
  const m = /^PROXY TCP4 127\.0\.0\.5 127\.0\.0\.100 (\d+) (\d+)$/.exec(a.proxyLines[0] ?? '');
  assert.ok(m, a.proxyLines[0]);
  assert.equal(Number(m[2]), port);
});

test('health check (smtp): a stopped upstream is down after `fall` checks and up after `rise`', async () => {
  const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
  const { b: lb, log } = await balancer([{ u: a! }, { u: b! }], {
    healthCheck: { type: 'smtp', intervalMs: 30, rise: 2, fall: 3, timeoutMs: 500 },
  });
  const isUp = () => lb.status().upstreams.find((u) => u.name === 'a')?.healthy;
  await a!.kill();
  assert.ok(await waitFor(() => isUp() === false), 'marked down');
  const down = log.events.find((e) => e.event === 'lb.upstream_down');
  assert.equal(down?.fall, 3);
  assert.equal(down?.reason, 'L4CON');
  await a!.restart();
  assert.ok(await waitFor(() => isUp() === true), 'back up');
  assert.equal(log.events.find((e) => e.event === 'lb.upstream_up')?.rise, 2);
  assert.equal(lb.status().upstreams.find((u) => u.name === 'b')?.healthy, true);
  assert.ok(a!.proxyLines.some((l) => l.startsWith('PROXY TCP4 127.0.0.1 127.0.0.1 ')), 'checks speak PROXY first');
});

test('half-close: the client sends a command and FIN at once; the reply still arrives', async () => {
  const a = await upstream('a');
  const { port } = await balancer([{ u: a }]);
  const { default: net } = await import('node:net');
  const s = net.connect({ port, host: VIP, allowHalfOpen: true });
  let got = '';
  s.on('data', (d) => {
    got += d.toString();
    if (got === '220 a ready\r\n') s.end('NOOP\r\n');
  });
  await new Promise((resolve) => s.on('close', resolve));
  assert.equal(got, '220 a ready\r\n250 ok\r\n');
});

test('idle time-out: a session idle past idleTimeoutMs is cut', async () => {
  const a = await upstream('a');
  const { port, b: lb } = await balancer([{ u: a }], { idleTimeoutMs: 200 });
  const { default: net } = await import('node:net');
  const s = net.connect({ port, host: VIP });
  const closed = new Promise<string>((resolve) => {
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
  });
  const got = await closed;
  assert.equal(got, '220 a ready\r\n');
  assert.ok(await waitFor(() => lb.status().upstreams[0]?.activeConns === 0));
});
