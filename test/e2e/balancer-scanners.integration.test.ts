import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startBalancer, validateBalancerConfig, type BalancerHandle } from '@moat/balancer';
import { createLogger } from '@moat/scanner';
import { startDownstream } from '../helpers/downstream.ts';
import { BASE_RULES, testScannerConfig } from '../helpers/scanner-harness.ts';
import { spawnScanner, writeScannerConfig, type ScannerProcess } from '../helpers/scanner-process.ts';
import { sendMail, message, type SendResult } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * Real scanner processes behind one balancer on a virtual loopback address: the weighted
 * split, a `kill -9` during a steady stream, and the real client address at each scanner.
 */
const VIRTUAL_HOST = '127.0.0.100';
const BALANCER_SOURCE = '127.0.0.3';
const CLIENT = '127.0.0.5';

const nodeOf = (raw: Buffer): string => /^X-Moat-Node: (\S+)/m.exec(raw.toString('latin1'))?.[1] ?? '?';
const subjectOf = (raw: Buffer): string => /^Subject: (\S+)/m.exec(raw.toString('latin1'))?.[1] ?? '?';

async function spawnScanners(names: string[], downstreamPort: number): Promise<{ procs: Map<string, ScannerProcess>; cleanup(): Promise<void> }> {
  const tmp = tempDir('lb-scanners');
  const procs = new Map<string, ScannerProcess>();
  try {
    await Promise.all(names.map(async (name) => {
      const dir = join(tmp.path, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'rules.yaml'), stringify(BASE_RULES));
      const base = testScannerConfig(dir, downstreamPort);
      const file = writeScannerConfig(dir, { ...base, node: { name }, smtp: { ...base.smtp, hostname: `${name}.test`, trustedProxies: [BALANCER_SOURCE] } });
      procs.set(name, await spawnScanner(file));
    }));
  } catch (err) {
    for (const p of procs.values()) await p.kill9();
    tmp.cleanup();
    throw err;
  }
  return {
    procs,
    async cleanup() {
      for (const p of procs.values()) if (p.child.exitCode === null && p.child.signalCode === null) await p.stop();
      tmp.cleanup();
    },
  };
}

async function balancerFor(procs: Map<string, ScannerProcess>, weights: Record<string, number>, extra: Record<string, unknown> = {}): Promise<{ lb: BalancerHandle; port: number }> {
  const config = validateBalancerConfig({
    listen: { host: VIRTUAL_HOST, port: 0 },
    sourceAddress: BALANCER_SOURCE,
    upstreams: [...procs].map(([name, p]) => ({ name, host: '127.0.0.1', port: p.port, weight: weights[name] ?? 1 })),
    ...extra,
  }, 'test balancer');
  const lb = await startBalancer(config, { log: createLogger((process.env.MOAT_TEST_LOG ?? 'silent') as 'silent', { role: 'balancer' }) });
  return { lb, port: lb.status().listen!.port };
}

const send = (port: number, subject: string): Promise<SendResult> =>
  sendMail(port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject }), VIRTUAL_HOST, { localAddress: CLIENT });

/** `total` sends by `workers` concurrent clients; `onDone` after each. */
async function stream(total: number, workers: number, each: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) await each(next++);
  }));
}

test('3 scanner processes weighted 3/1/1: 500 messages split 60/20/20, each scanner sees the real client address', async (t) => {
  const downstream = await startDownstream();
  const { procs, cleanup } = await spawnScanners(['s-a', 's-b', 's-c'], downstream.port);
  const { lb, port } = await balancerFor(procs, { 's-a': 3, 's-b': 1, 's-c': 1 });
  try {
    const N = 500;
    const failed: string[] = [];
    await stream(N, 8, async (i) => {
      const r = await send(port, `w-${i}`);
      if (r.code !== 250) failed.push(`w-${i}: ${r.response}`);
    });
    assert.deepEqual(failed, []);
    await downstream.waitFor(N, 60_000);
    const counts = new Map<string, number>();
    for (const m of downstream.received) counts.set(nodeOf(m.raw), (counts.get(nodeOf(m.raw)) ?? 0) + 1);
    const share = (n: string) => (counts.get(n) ?? 0) / N;
    t.diagnostic(`shares ${JSON.stringify(Object.fromEntries(counts))}`);
    assert.ok(Math.abs(share('s-a') - 0.6) <= 0.03, `s-a ${share('s-a')}`);
    assert.ok(Math.abs(share('s-b') - 0.2) <= 0.03, `s-b ${share('s-b')}`);
    assert.ok(Math.abs(share('s-c') - 0.2) <= 0.03, `s-c ${share('s-c')}`);
    // PROXY v1 from the balancer: each scanner's Received header names the client, not the balancer.
    const received = downstream.received.map((m) => /^Received: from \S+ \(\[([^\]]+)\]\)/m.exec(m.raw.toString('latin1'))?.[1]);
    assert.deepEqual(new Set(received), new Set([CLIENT]));
  } finally {
    await lb.close();
    await cleanup();
    await downstream.close();
  }
});

test('kill -9 of a scanner process during a steady stream: every message still gets 250 through the others', async (t) => {
  const downstream = await startDownstream();
  const { procs, cleanup } = await spawnScanners(['k-a', 'k-b', 'k-c'], downstream.port);
  const { lb, port } = await balancerFor(procs, {}, { healthCheck: { type: 'smtp', intervalMs: 200, rise: 2, fall: 1 } });
  try {
    const N = 240;
    const WORKERS = 6;
    let done = 0;
    let killed = false;
    const attempts: { subject: string; startedAfterKill: boolean; result: SendResult }[] = [];
    const killer = (async () => {
      await waitUntil(() => done >= 60 || done >= N, '60 messages before the kill', 60_000);
      await procs.get('k-c')!.kill9();
      killed = true;
    })();
    await stream(N, WORKERS, async (i) => {
      // A session cut mid-way by the crash is a temporary failure: the client tries again, as an MTA would.
      for (let attempt = 0; attempt < 3; attempt++) {
        const startedAfterKill = killed;
        const result = await send(port, `k-${i}`);
        attempts.push({ subject: `k-${i}`, startedAfterKill, result });
        if (result.code === 250) break;
      }
      done++;
    });
    await killer;
    const failures = attempts.filter((a) => a.result.code !== 250);
    const got250 = new Set(attempts.filter((a) => a.result.code === 250).map((a) => a.subject));
    t.diagnostic(`${attempts.length} attempts, ${failures.length} cut by the crash: ${failures.map((f) => f.result.response).join(' | ')}`);
    assert.equal(got250.size, N, 'every message got 250');
    assert.ok(attempts.filter((a) => a.startedAfterKill).length >= 60, 'the stream went on well after the kill');
    // Only sessions already in flight on the killed scanner can fail; none that started after it died.
    assert.deepEqual(failures.filter((f) => f.startedAfterKill).map((f) => `${f.subject}: ${f.result.response}`), []);
    assert.ok(failures.length <= WORKERS, `at most one cut session per client (${failures.length})`);
    const after = lb.status().upstreams.find((u) => u.name === 'k-c')!;
    assert.equal(after.usable, false, 'the killed scanner is out of the pool');
    // Everything accepted by the live scanners reaches downstream (k-c's own queue died with it).
    await waitUntil(() => {
      const seen = new Set(downstream.received.filter((m) => nodeOf(m.raw) !== 'k-c').map((m) => subjectOf(m.raw)));
      return seen.size >= N - 60 - WORKERS;
    }, 'deliveries from the live scanners', 60_000);
    assert.ok(downstream.received.filter((m) => nodeOf(m.raw) !== 'k-c').length > 0);
  } finally {
    await lb.close();
    await cleanup();
    await downstream.close();
  }
});
