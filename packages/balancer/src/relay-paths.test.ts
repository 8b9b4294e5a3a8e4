import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, test } from 'node:test';
import { startBalancer, type BalancerHandle } from './balancer.ts';
import { validateBalancerConfig } from './config.ts';
import { handleRelayApi } from './handle-relay.ts';
import { nativeRelay } from './native-relay.ts';
import { ALL_DOWN_REPLY } from './proxy.ts';
import { bounded, fakeUpstream, memoryLog, smtpSession, waitFor, type FakeUpstream } from './test-helpers.ts';

/**
 * The same behaviours on each relay path (docs/balancer.md, "Relay paths"):
 * - native: `relay: auto` with upstreams given by address and the native relay built: accept,
 *   connect and greeting gate on bare libuv handles, the bytes moved by the C relay thread;
 * - handles: `relay: handles` (or auto without the native relay): the same, the bytes moved on
 *   the handles in JavaScript;
 * - streams, then handles: `relay: auto` with an upstream given by name (DNS needs net.Socket):
 *   the gate on streams, the relay on the handles taken from them;
 * - streams: `relay: stream`, the public net.Socket path (also the fallback when the internal
 *   API is not in the expected shape).
 */
const VIP = '127.0.0.100';
const PATHS = [
  { name: 'native', relay: 'auto', host: '127.0.0.1', onHandles: true, event: 'native' },
  { name: 'handles', relay: 'handles', host: '127.0.0.1', onHandles: true, event: 'handles' },
  { name: 'streams, then handles', relay: 'auto', host: 'localhost', onHandles: true, event: 'streams, then handles' },
  { name: 'streams', relay: 'stream', host: '127.0.0.1', onHandles: false, event: 'streams' },
] as const;
type Path = (typeof PATHS)[number];

const open: BalancerHandle[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  await Promise.all(open.map((b) => b.close()));
  await Promise.all(servers.map((s) => s.close().catch(() => {})));
});

async function upstream(name: string, behaviour: 'smtp' | 'silent' | 'reject' = 'smtp', proxy = true): Promise<FakeUpstream> {
  const u = await fakeUpstream(name, behaviour, { proxy });
  servers.push({ close: () => u.kill() });
  return u;
}

/** Greets, then echoes every byte back (pipe: with backpressure), and half-closes when the client does. */
async function echoUpstream(): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    s.write('220 echo\r\n');
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  servers.push({ close: () => new Promise<void>((r) => srv.close(() => r())) });
  return (srv.address() as net.AddressInfo).port;
}

async function balancer(path: Path, ups: Array<{ name: string; port: number; extra?: Record<string, unknown> }>, extra: Record<string, unknown> = {}) {
  const log = memoryLog();
  const config = validateBalancerConfig({
    listen: { host: VIP, port: 0 },
    relay: path.relay,
    connectTimeoutMs: 1000,
    greetingTimeoutMs: 400,
    upstreams: ups.map((u) => ({ name: u.name, host: path.host, port: u.port, ...u.extra })),
    ...extra,
  });
  const b = await startBalancer(config, { log });
  open.push(b);
  const port = b.status().listen?.port;
  assert.ok(port);
  assert.equal(log.events.find((e) => e.event === 'lb.relay')?.path, path.event, 'the path under test was chosen');
  return { b, port, log };
}

function expectPath(path: Path, b: BalancerHandle) {
  const c = b.status().counters;
  assert.equal(c.relayedOnHandles, path.onHandles ? c.relayed : 0, JSON.stringify(c));
  assert.equal(c.relayedNative, path.name === 'native' ? c.relayed : 0, JSON.stringify(c));
}

/**
 * The native relay must be there wherever it can be built: CI sets MOAT_REQUIRE_NATIVE=1 (its
 * set-up builds it), so a build that silently failed fails here instead of skipping a path.
 */
const native = nativeRelay();
const skipNative = native.api ? false : `the native relay is not built: ${native.reason}`;
const skipFor = (path: Path): string | false => (path.name === 'native' && process.env.MOAT_REQUIRE_NATIVE !== '1' ? skipNative : false);
test('the native relay is built and loads (required when MOAT_REQUIRE_NATIVE=1)', { skip: process.env.MOAT_REQUIRE_NATIVE === '1' ? false : skipNative }, () => {
  assert.ok(native.api, 'reason' in native ? native.reason : '');
});

test('the pinned Node 24 has the internal handle API in the expected shape', () => {
  const found = handleRelayApi();
  assert.ok(found.api, 'reason' in found ? found.reason : '');
});

test('detection: a missing or different internal API is refused with a reason (the proxy then uses streams)', () => {
  assert.match(String((handleRelayApi(null) as { reason: string }).reason), /process\.binding is not available/);
  assert.match(String((handleRelayApi(() => ({})) as { reason: string }).reason), /WriteWrap/);
  const real = (process as unknown as { binding: (n: string) => Record<string, unknown> }).binding.bind(process);
  const noUserBuffer = (name: string) => {
    const b = real(name);
    if (name !== 'tcp_wrap') return b;
    class TCP {}
    for (const m of ['readStart', 'readStop', 'writeBuffer', 'shutdown', 'close', 'setNoDelay']) (TCP.prototype as unknown as Record<string, unknown>)[m] = () => 0;
    return { ...b, TCP };
  };
  assert.match(String((handleRelayApi(noUserBuffer) as { reason: string }).reason), /useUserBuffer/);
  assert.match(String((handleRelayApi(() => { throw new Error('gone'); }) as { reason: string }).reason), /gone/);
});

for (const path of PATHS) {
  test(`${path.name}: greeting gate skips refused, silent and 554 upstreams; the client never sees them`, { skip: skipFor(path) }, async () => {
    const [dead, silent, reject, good] = await Promise.all([upstream('dead'), upstream('silent', 'silent'), upstream('reject', 'reject'), upstream('good')]);
    await dead.kill();
    const { b, port } = await balancer(path, [dead, silent, reject, good].map((u) => ({ name: u.name, port: u.port, extra: { failTimeoutMs: 60_000 } })));
    const results = await bounded(12, 4, () => smtpSession(port, VIP));
    assert.ok(results.every((r) => r.greeting === '220 good ready' && r.quit.startsWith('221')), JSON.stringify(results));
    const c = b.status().counters;
    for (const reason of ['refused', 'greeting-timeout', 'bad-greeting']) assert.ok((c.failures[reason] ?? 0) >= 1, `${reason}: ${JSON.stringify(c.failures)}`);
    expectPath(path, b);
    assert.ok(await waitFor(() => b.status().upstreams.every((u) => u.activeConns === 0)), 'connections released');
  });

  test(`${path.name}: all upstreams dead → 421 4.3.2 and a close`, { skip: skipFor(path) }, async () => {
    const a = await upstream('a');
    await a.kill();
    const { b, port } = await balancer(path, [a]);
    const r = await smtpSession(port, VIP);
    assert.equal(r.greeting, ALL_DOWN_REPLY.trimEnd());
    assert.equal(r.quit, 'closed');
    assert.equal(b.status().counters.rejected, 1);
  });

  test(`${path.name}: PROXY v1 carries the real client address`, { skip: skipFor(path) }, async () => {
    const a = await upstream('a');
    const { b, port } = await balancer(path, [a]);
    const r = await smtpSession(port, VIP, '127.0.0.5');
    assert.equal(r.greeting, '220 a ready');
    assert.match(a.proxyLines[0] ?? '', new RegExp(`^PROXY TCP4 127\\.0\\.0\\.5 127\\.0\\.0\\.100 \\d+ ${port}$`));
    expectPath(path, b);
  });

  test(`${path.name}: 4 MiB each way through a slow reader arrive intact (backpressure), then half-close both ways`, { skip: skipFor(path) }, async () => {
    const echo = await echoUpstream();
    const { b, port } = await balancer(path, [{ name: 'echo', port: echo }], { proxyProtocol: 'off' });
    const payload = randomBytes(4 * 1024 * 1024);
    const s = net.connect({ port, host: VIP, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let paused = false;
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      // Stop reading for a while once the echo flows: the kernel buffers fill and the
      // balancer's writes to us queue, so it must stop reading from the upstream.
      if (!paused && chunks.length === 3) {
        paused = true;
        s.pause();
        setTimeout(() => s.resume(), 300);
      }
    });
    const ended = new Promise<void>((r) => s.on('end', () => r()));
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.end(payload);
    await ended;
    s.destroy();
    const got = Buffer.concat(chunks);
    assert.equal(got.subarray(0, 10).toString(), '220 echo\r\n');
    const body = got.subarray(10);
    assert.equal(body.length, payload.length);
    assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    expectPath(path, b);
    assert.ok(await waitFor(() => b.status().upstreams[0]?.activeConns === 0), 'released after both sides closed');
  });

  test(`${path.name}: the upstream's FIN first (as after 221): the client still sends 1 MiB, the upstream reads it all, both see their FIN`, { skip: skipFor(path) }, async () => {
    // The upstream greets and half-closes at once, then hashes everything it reads.
    let digest: Promise<{ hash: string; bytes: number }> = Promise.reject(new Error('no connection'));
    digest.catch(() => {});
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.end('220 closing\r\n');
      const h = createHash('sha256');
      let bytes = 0;
      digest = new Promise((resolve) => {
        s.on('data', (d: Buffer) => {
          h.update(d);
          bytes += d.length;
        });
        s.on('end', () => resolve({ hash: h.digest('hex'), bytes }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    servers.push({ close: () => new Promise<void>((r) => srv.close(() => r())) });
    const { b, port } = await balancer(path, [{ name: 'closing', port: (srv.address() as net.AddressInfo).port }], { proxyProtocol: 'off' });
    const s = net.connect({ port, host: VIP, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    await new Promise<void>((r) => s.once('end', () => r())); // the upstream's FIN, passed on
    assert.equal(Buffer.concat(got).toString(), '220 closing\r\n');
    const payload = randomBytes(1024 * 1024);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.end(payload);
    const seen = await digest;
    assert.equal(seen.bytes, payload.length);
    assert.equal(seen.hash, createHash('sha256').update(payload).digest('hex'));
    await closed;
    expectPath(path, b);
    assert.ok(await waitFor(() => b.status().upstreams[0]?.activeConns === 0), 'released after both FINs');
  });

  test(`${path.name}: a client reset (RST) closes the upstream side and releases the connection`, { skip: skipFor(path) }, async () => {
    const a = await upstream('a');
    const { b, port } = await balancer(path, [a]);
    const s = net.connect({ port, host: VIP });
    await new Promise<void>((r) => s.once('data', () => r()));
    assert.equal(b.status().upstreams[0]?.activeConns, 1);
    s.resetAndDestroy();
    assert.ok(await waitFor(() => b.status().upstreams[0]?.activeConns === 0));
    expectPath(path, b);
  });

  test(`${path.name}: idle time-out and close() cut relayed sessions`, { skip: skipFor(path) }, async () => {
    const a = await upstream('a');
    const { b, port } = await balancer(path, [a], { idleTimeoutMs: 200 });
    const session = () => {
      const s = net.connect({ port, host: VIP });
      return new Promise<string>((resolve) => {
        let got = '';
        s.on('error', () => {});
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
      });
    };
    assert.equal(await session(), '220 a ready\r\n', 'idle: cut after the greeting');
    const { b: b2, port: port2 } = await balancer(path, [a]);
    const s = net.connect({ port: port2, host: VIP });
    s.on('error', () => {});
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    await new Promise<void>((r) => s.once('data', () => r()));
    await b2.close();
    await closed;
    expectPath(path, b);
  });
}
