import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BalancerStatus, UpstreamConfig } from '@moat/balancer';
import { validator, BalancerReportSchema, MAX_REPORTED_UPSTREAMS, decodeToMaster } from '@moat/protocol';
import { balancerReport, upstreamChanges, withLocalUpstream } from './balancer-bridge.ts';

const up = (name: string, extra: Partial<UpstreamConfig> = {}): UpstreamConfig =>
  ({ name, host: '127.0.0.1', port: 1, weight: 2, backup: false, down: false, maxFails: 1, failTimeoutMs: 10_000, maxConns: 0, ...extra });

test('node settings: by name; no entry restores the config values; maintenance and weight 0 drain; weights capped', () => {
  const ups = [up('a'), up('b', { backup: true }), up('c', { down: true }), up('d')];
  const changes = new Map(upstreamChanges(ups, {
    a: { weight: 5, backup: false, maintenance: true },
    c: { weight: 1, backup: false, maintenance: false },
    d: { weight: 5000, backup: true, maintenance: false },
    stranger: { weight: 9, backup: false, maintenance: false },
  }));
  assert.deepEqual(changes.get('a'), { weight: 5, backup: false, down: true });
  assert.deepEqual(changes.get('b'), { weight: 2, backup: true, down: false }, 'no entry: config values');
  assert.deepEqual(changes.get('c'), { weight: 1, backup: false, down: true }, 'down in the local config stays down');
  assert.deepEqual(changes.get('d'), { weight: 256, backup: true, down: false });
  assert.ok(!changes.has('stranger'), 'only configured upstreams');
  assert.deepEqual(new Map(upstreamChanges([up('z')], { z: { weight: 0, backup: false, maintenance: false } })).get('z'), { weight: 1, backup: false, down: true });
});

test('balancer report: valid against the heartbeat schema, bounded', () => {
  const upstream = (i: number) => ({
    name: `s${i}`, host: '127.0.0.1', port: 25, weight: 3, effectiveWeight: 3, backup: false, down: false, healthy: true, usable: true,
    fails: 0, activeConns: 2, lastCheckFailure: null,
  });
  const status = {
    holder: true, listen: { host: '127.0.0.100', port: 2500 },
    election: { nodeId: 'a', state: 'master', priority: 200, master: '127.0.0.1', masterPriority: 200, lastTransition: null, counters: {} },
    upstreams: Array.from({ length: 100 }, (_, i) => upstream(i)), counters: {},
  } as unknown as BalancerStatus;
  const report = balancerReport(status);
  assert.equal(report.upstreams.length, MAX_REPORTED_UPSTREAMS);
  assert.equal(report.listen, '127.0.0.100:2500');
  assert.ok(validator(BalancerReportSchema)(report));
  const frame = decodeToMaster(JSON.stringify({ type: 'heartbeat', at: 1, balancer: report }));
  assert.equal(frame.type === 'heartbeat' && frame.balancer?.election?.priority, 200);
  assert.throws(() => decodeToMaster(JSON.stringify({ type: 'heartbeat', at: 1, balancer: { ...report, upstreams: [...report.upstreams, report.upstreams[0]] } })));
  assert.throws(() => decodeToMaster(JSON.stringify({ type: 'heartbeat', at: 1, balancer: { ...report, extra: 1 } })));
});

test('localUpstream defaults to the upstream named like the node, and an explicit one stays', () => {
  const ups = [{ name: 'scanner-a' }, { name: 'scanner-b' }];
  const section: { upstreams: typeof ups; localUpstream?: string } = { upstreams: ups };
  assert.equal(withLocalUpstream(section, 'scanner-b').localUpstream, 'scanner-b');
  assert.equal(withLocalUpstream(section, 'elsewhere').localUpstream, undefined);
  assert.equal(withLocalUpstream({ upstreams: ups, localUpstream: 'scanner-a' }, 'scanner-b').localUpstream, 'scanner-a');
});
