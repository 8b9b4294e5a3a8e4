import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@moat/config';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBalancerConfigFile, validateBalancerConfig } from './config.ts';

test('config: defaults are applied', () => {
  const c = validateBalancerConfig({ upstreams: [{ name: 'a', host: '127.0.0.1', port: 2525 }] });
  assert.equal(c.listen.port, 2500);
  assert.equal(c.idleTimeoutMs, 600_000);
  assert.equal(c.proxyProtocol, 'v1');
  assert.equal(c.upstreams[0]?.weight, 1);
  assert.equal(c.upstreams[0]?.maxFails, 1);
  assert.equal(c.healthCheck.type, 'none');
  assert.equal(c.election, undefined);
  assert.ok(Object.isFrozen(c));
});

test('config: unknown keys, bad weights, short keys and duplicate names are errors', () => {
  const u = { name: 'a', host: '127.0.0.1', port: 2525 };
  assert.throws(() => validateBalancerConfig({ upstreams: [u], bogus: 1 }), ConfigError);
  assert.throws(() => validateBalancerConfig({ upstreams: [{ ...u, weight: 0 }] }), ConfigError);
  assert.throws(() => validateBalancerConfig({ upstreams: [u, u] }), /duplicate name a/);
  assert.throws(
    () => validateBalancerConfig({ upstreams: [u], election: { nodeId: 'n', bind: { host: '127.0.0.1', port: 1 }, peers: [{ host: '127.0.0.2', port: 1 }], key: 'short' } }),
    ConfigError,
  );
});

test('config: loadBalancerConfigFile reads YAML and names the file in errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-balancer-'));
  try {
    const good = join(dir, 'lb.yaml');
    writeFileSync(good, 'listen: { host: 127.0.0.100, port: 2500 }\nupstreams:\n  - { name: a, host: 127.0.0.1, port: 2525, weight: 3 }\n');
    assert.equal(loadBalancerConfigFile(good).upstreams[0]?.weight, 3);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'upstreams: []\n');
    assert.throws(() => loadBalancerConfigFile(bad), (e: unknown) => e instanceof ConfigError && e.message.startsWith(bad));
    assert.throws(() => loadBalancerConfigFile(join(dir, 'missing.yaml')), ConfigError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config: election peers share bind.host\'s family; multicast needs IPv4', () => {
  const u = { name: 'a', host: '127.0.0.1', port: 2525 };
  const e = { nodeId: 'n', key: '0123456789abcdef', bind: { host: '::1', port: 5798 } };
  assert.equal(validateBalancerConfig({ upstreams: [u], election: { ...e, peers: [{ host: '::1', port: 5799 }] } }).election?.startupDelayMs, 0);
  assert.throws(
    () => validateBalancerConfig({ upstreams: [u], election: { ...e, peers: [{ host: '127.0.0.2', port: 5798 }] } }),
    (err: unknown) => err instanceof ConfigError && /election\.peers\.0\.host/.test(err.message) && /IPv4 peer but bind.host ::1 is IPv6/.test(err.message),
  );
  assert.throws(
    () => validateBalancerConfig({ upstreams: [u], election: { ...e, multicast: { group: '239.1.1.1', port: 5798 } } }),
    (err: unknown) => err instanceof ConfigError && /election\.multicast/.test(err.message),
  );
});
