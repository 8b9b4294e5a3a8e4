import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startBalancer, type BalancerHandle } from './balancer.ts';
import { validateBalancerConfig } from './config.ts';
import { fakeUpstream, memoryLog, smtpSession, waitFor, type FakeUpstream } from './test-helpers.ts';

/** The status endpoint: JSON status, Prometheus metrics, bearer token, errors as JSON. */
const handles = new Set<BalancerHandle>();
const ups: FakeUpstream[] = [];
after(async () => {
  await Promise.all([...handles].map((h) => h.close({ abrupt: true })));
  await Promise.all(ups.map((u) => u.kill().catch(() => {})));
});

const TOKEN = 'status-token-0123456789';

async function get(h: BalancerHandle, path: string, token: string | null = TOKEN, method = 'GET') {
  const a = h.statusAddress()!;
  const res = await fetch(`http://${a.address}:${a.port}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

const metric = (text: string, line: string): number | null => {
  const m = new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
};

test('status endpoint: /status JSON and /metrics follow upstream health and traffic', async () => {
  const a = await fakeUpstream('a', 'smtp', { proxy: false });
  const b = await fakeUpstream('b', 'smtp', { proxy: false });
  ups.push(a, b);
  const h = await startBalancer(validateBalancerConfig({
    listen: { host: '127.0.0.100', port: 0 },
    proxyProtocol: 'off',
    upstreams: [{ name: 'a', host: '127.0.0.1', port: a.port }, { name: 'b', host: '127.0.0.1', port: b.port }],
    healthCheck: { type: 'tcp', intervalMs: 50, rise: 1, fall: 2, timeoutMs: 500 },
    status: { host: '127.0.0.1', port: 0, token: TOKEN },
  }), { log: memoryLog() });
  handles.add(h);
  const vip = h.status().listen!;
  for (let i = 0; i < 4; i++) assert.match((await smtpSession(vip.port, vip.host)).greeting, /^220 /);

  const s = await get(h, '/status');
  assert.equal(s.status, 200);
  const json = JSON.parse(s.body) as { holder: boolean; mode: string; upstreams: Array<{ name: string; healthy: boolean }>; counters: { relayed: number } };
  assert.equal(json.holder, true);
  assert.equal(json.mode, 'active-active');
  assert.equal(json.counters.relayed, 4);

  let m = await get(h, '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /text\/plain/);
  assert.equal(metric(m.body, 'moat_balancer_holder'), 1);
  assert.equal(metric(m.body, 'moat_balancer_upstream_healthy{upstream="b"}'), 1);
  assert.equal(metric(m.body, 'moat_balancer_connections_total{result="relayed"}'), 4);

  await b.kill();
  assert.ok(await waitFor(() => h.status().upstreams.find((u) => u.name === 'b')?.healthy === false));
  m = await get(h, '/metrics');
  assert.equal(metric(m.body, 'moat_balancer_upstream_healthy{upstream="b"}'), 0);
  assert.equal(metric(m.body, 'moat_balancer_upstream_usable{upstream="b"}'), 0);
  assert.equal(metric(m.body, 'moat_balancer_upstream_state_changes_total{upstream="b",to="down"}'), 1);
  assert.equal(metric(m.body, 'moat_balancer_upstream_healthy{upstream="a"}'), 1);
});

test('status endpoint: token required, unknown routes 404, other methods 405, all JSON', async () => {
  const a = await fakeUpstream('t', 'smtp', { proxy: false });
  ups.push(a);
  const h = await startBalancer(validateBalancerConfig({
    listen: { host: '127.0.0.100', port: 0 }, proxyProtocol: 'off',
    upstreams: [{ name: 't', host: '127.0.0.1', port: a.port }],
    status: { port: 0, token: TOKEN },
  }), { log: memoryLog() });
  handles.add(h);
  const noToken = await get(h, '/metrics', null);
  assert.equal(noToken.status, 401);
  assert.match(noToken.body, /"error":"missing or wrong bearer token"/);
  assert.equal((await get(h, '/status', 'wrong-token-0123456789')).status, 401);
  assert.equal((await get(h, '/nope')).status, 404);
  const post = await get(h, '/status', TOKEN, 'POST');
  assert.equal(post.status, 405);
  assert.match(post.type, /application\/json/);
});

test('config: a status endpoint off loopback needs a token', async () => {
  const { ConfigError } = await import('@moat/config');
  const ups = [{ name: 't', host: '127.0.0.1', port: 1 }];
  assert.throws(() => validateBalancerConfig({ upstreams: ups, status: { host: '0.0.0.0', port: 9100 } }), (e: unknown) => e instanceof ConfigError && /status.token: required when the status endpoint listens on 0.0.0.0/.test(String(e)));
  assert.equal(validateBalancerConfig({ upstreams: ups, status: { port: 9100 } }).status?.host, '127.0.0.1');
  assert.ok(validateBalancerConfig({ upstreams: ups, status: { host: '10.0.0.5', port: 9100, token: TOKEN } }).status);
});
