import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoop, orderTargets } from './routing.ts';
import { compiled } from './test-fixtures.ts';
import { validateRules } from './validate.ts';

const BASE = { version: 1, acceptedDomains: ['example.test', 'two.test', '*.sub.test'], lists: {}, limits: { maxMessageBytes: 100_000, maxRecipients: 5 } };

test('a recipient domain takes its route; others none (the scanner relay)', () => {
  const r = compiled({ acceptedDomains: BASE.acceptedDomains, routing: { domains: [
    { domain: 'two.test', hosts: [{ host: 'mx.two.test', priority: 10 }], port: 25, tls: 'opportunistic', maxConnections: 5 },
    { domain: '*.sub.test', mx: true, port: 25, tls: 'none', maxConnections: 5 },
  ] } });
  assert.equal(r.route('TWO.test')?.hosts?.[0]?.host, 'mx.two.test');
  assert.equal(r.route('a.sub.test')?.tls, 'none');
  assert.equal(r.route('example.test'), undefined);
});

test('targets by priority; equal priorities drawn in either order; a host port wins over the route port', () => {
  const hosts = [{ host: 'b', priority: 20 }, { host: 'a1', priority: 10 }, { host: 'a2', priority: 10, port: 2525 }];
  const low = orderTargets(hosts, 25, () => 0);
  assert.deepEqual(low.map((t) => t.host).slice(2), ['b']);
  const seen = new Set<string>();
  let n = 0;
  for (let i = 0; i < 50; i++) seen.add(orderTargets(hosts, 25, () => (n++ % 7) / 7)[0]!.host);
  assert.deepEqual([...seen].sort(), ['a1', 'a2'], 'both hosts of priority 10 come first sometimes');
  assert.equal(orderTargets(hosts, 25).find((t) => t.host === 'a2')?.port, 2525);
  assert.equal(orderTargets(hosts, 25).find((t) => t.host === 'a1')?.port, 25);
});

test('a loop: our name or one of our addresses on a port we take SMTP on', () => {
  const self = { names: new Set(['gw.example.test']), addresses: new Set(['192.0.2.1', '127.0.0.1']), ports: new Set([25, 2500]) };
  assert.equal(isLoop({ host: 'gw.example.test.', port: 25 }, [], self), true);
  assert.equal(isLoop({ host: 'mx.example.test', port: 25 }, ['192.0.2.1'], self), true);
  assert.equal(isLoop({ host: 'mx.example.test', port: 25 }, ['::ffff:192.0.2.1'], self), true);
  assert.equal(isLoop({ host: 'mx.example.test', port: 2525 }, ['192.0.2.1'], self), false, 'our address, another port: a local mail server');
  assert.equal(isLoop({ host: 'mx.example.test', port: 25 }, ['198.51.100.7'], self), false);
});

test('bad routes are refused naming the key', () => {
  const bad = (routes: unknown[]) => () => validateRules({ ...BASE, routing: { domains: routes } });
  assert.throws(bad([{ domain: 'other.test', hosts: [{ host: 'a' }] }]), /routing\.domains\.0\.domain.*acceptedDomains/s);
  assert.throws(bad([{ domain: 'two.test', hosts: [{ host: 'a' }] }, { domain: 'TWO.test', mx: true }]), /routing\.domains\.1\.domain.*two routes/s);
  assert.throws(bad([{ domain: 'two.test' }]), /routing\.domains\.0\.hosts.*required unless mx/s);
  assert.throws(bad([{ domain: 'two.test', mx: true, hosts: [{ host: 'a' }] }]), /routing\.domains\.0\.hosts.*not both/s);
  assert.throws(bad([{ domain: 'two.test', hosts: [{ host: 'a' }], tls: 'opportunistic', ca: '-----BEGIN CERTIFICATE-----x' }]), /routing\.domains\.0\.ca/);
  assert.throws(bad([{ domain: 'two.test', hosts: [{ host: 'a' }], tls: 'sometimes' }]), /routing\.domains\.0\.tls/);
  assert.throws(bad([{ domain: 'two.test', hosts: [] }]), /routing\.domains\.0\.hosts/);
  const ok = validateRules({ ...BASE, routing: { domains: [{ domain: 'two.test', hosts: [{ host: 'a' }] }] } });
  assert.deepEqual(ok.routing.domains[0], { domain: 'two.test', hosts: [{ host: 'a', priority: 10 }], port: 25, tls: 'opportunistic', maxConnections: 5 });
  assert.deepEqual(validateRules(BASE).routing, { domains: [] });
});
