import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRules } from '@moat/rules';
import { freePort } from '@moat/engines';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster, type ApiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { DNSMASQ_SKIP, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';

/**
 * Per-domain routing (issue 19, item 2) over real sockets: a master pushes routes to a scanner,
 * which delivers each domain's mail to its own downstream servers started here: fail-over to
 * the next host, two domains to two servers, a dead route that defers only its own mail (and
 * delivers once its server is back), equal priorities sharing, a route pointing back at the
 * scanner refused as a loop, a domain without a route on the scanner's `relay`, and each
 * route's health on the master's API.
 */

let relay: Downstream; // the scanner's own `relay` (domains without a route)
let one: Downstream;
let two: Downstream;
let shareA: Downstream;
let shareB: Downstream;
let revived: Downstream | undefined;
let deadPort: number;
let downPort: number;
let scannerPort: number;
let master: Awaited<ReturnType<typeof startTestMaster>>;
let scanner: Awaited<ReturnType<typeof startClusterScanner>>;
let api: ApiClient;
let dns: Dnsmasq | undefined;

const rcptsOf = (d: Downstream) => d.received.flatMap((m) => m.to);
const queued = () => scanner.db.prepare('SELECT rcpt_to, last_error FROM queue').all() as { rcpt_to: string; last_error: string | null }[];

before(async () => {
  [relay, one, two, shareA, shareB] = await Promise.all([startDownstream(), startDownstream(), startDownstream(), startDownstream(), startDownstream()]);
  deadPort = await freePort(); // nothing listens there
  downPort = await freePort(); // nothing listens there until the test starts a server on it
  scannerPort = await freePort();
  // MX routes ask a private dnsmasq: mx.test's MX is a name at 127.0.0.1, mxloop.test's MX is the
  // scanner's own address (on its SMTP port: a loop), nomx.test has no MX but an address (implicit MX).
  if (!DNSMASQ_SKIP) {
    dns = await startDnsmasq({
      a: { 'mail.mx.test': '127.0.0.1', 'gw.mxloop.test': '127.0.0.1', 'nomx.test': '127.0.0.1' },
      mx: { 'mx.test': [{ exchange: 'mail.mx.test', priority: 10 }], 'mxloop.test': [{ exchange: 'gw.mxloop.test', priority: 10 }] },
    });
  }
  const rules = validateRules({
    ...BASE_RULES,
    acceptedDomains: ['example.test', 'one.test', 'two.test', 'failover.test', 'down.test', 'shared.test', 'loop.test', 'mx.test', 'mxloop.test', 'nomx.test', 'tls.test'],
    routing: {
      domains: [
        { domain: 'one.test', hosts: [{ host: '127.0.0.1', port: one.port }], tls: 'none' },
        { domain: 'two.test', hosts: [{ host: '127.0.0.1', port: two.port }] },
        { domain: 'failover.test', hosts: [{ host: '127.0.0.1', port: deadPort, priority: 10 }, { host: '127.0.0.1', port: two.port, priority: 20 }] },
        { domain: 'down.test', hosts: [{ host: '127.0.0.1', port: downPort }] },
        { domain: 'shared.test', hosts: [{ host: '127.0.0.1', port: shareA.port, priority: 5 }, { host: '127.0.0.1', port: shareB.port, priority: 5 }] },
        { domain: 'loop.test', hosts: [{ host: '127.0.0.1', port: scannerPort }] },
        { domain: 'tls.test', hosts: [{ host: '127.0.0.1', port: one.port }], tls: 'required' },
        { domain: 'mx.test', mx: true, port: one.port, tls: 'none' },
        { domain: 'mxloop.test', mx: true, port: scannerPort },
        { domain: 'nomx.test', mx: true, port: two.port },
      ],
    },
  });
  master = await startTestMaster({ seed: rules });
  scanner = await startClusterScanner('router', master.wsUrl, relay.port, { port: scannerPort, ...(dns ? { analyzers: { dns: { servers: [dns.server], timeoutMs: 500 } } } : {}) });
  await waitUntil(() => scanner.link?.isConnected, 'scanner linked');
  api = await apiClient(master.url);
});

after(async () => {
  await scanner?.close();
  await master?.close();
  for (const d of [relay, one, two, shareA, shareB, revived]) await d?.close();
  await dns?.stop();
});

const send = (to: string[], subject = 'routed') => sendMail(scanner.smtpPort, { from: 'sender@origin.test', to }, message({ to: to.join(', '), subject }));

test('two domains to two downstreams, a domain without a route to the scanner relay, one message split by route', async () => {
  const r = await send(['alice@one.test', 'bob@two.test', 'carol@example.test']);
  assert.equal(r.code, 250, r.response);
  await Promise.all([one.waitFor(1), two.waitFor(1), relay.waitFor(1)]);
  assert.deepEqual(rcptsOf(one), ['alice@one.test']);
  assert.deepEqual(rcptsOf(two), ['bob@two.test']);
  assert.deepEqual(rcptsOf(relay), ['carol@example.test']);
});

test('the first host refuses connections: the next priority gets the message', async () => {
  const before = two.received.length;
  const r = await send(['dave@failover.test']);
  assert.equal(r.code, 250, r.response);
  await two.waitFor(before + 1);
  assert.deepEqual(two.received.at(-1)!.to, ['dave@failover.test']);
});

test('a route that is down defers only its own mail; the other domains flow; it is delivered once its server is back', async () => {
  const r = await send(['erin@down.test', 'frank@one.test']);
  assert.equal(r.code, 250, r.response);
  await waitUntil(() => rcptsOf(one).includes('frank@one.test'), 'one.test delivered');
  await waitUntil(() => queued().some((q) => q.last_error !== null), 'down.test deferred');
  assert.deepEqual(queued().map((q) => JSON.parse(q.rcpt_to)), [['erin@down.test']], 'only the down route\'s recipient waits');
  // Meanwhile mail to other domains is not held up by it.
  const other = await send(['grace@two.test']);
  assert.equal(other.code, 250);
  await waitUntil(() => rcptsOf(two).includes('grace@two.test'), 'two.test delivered while down.test is down');
  revived = await startDownstream({}, downPort);
  await revived.waitFor(1, 20_000);
  assert.deepEqual(rcptsOf(revived), ['erin@down.test']);
  await waitUntil(() => queued().length === 0, 'queue empty');
});

test('hosts of equal priority share the mail', async () => {
  for (let i = 0; i < 20; i++) assert.equal((await send([`s${i}@shared.test`])).code, 250);
  await waitUntil(() => shareA.received.length + shareB.received.length === 20, 'all 20 delivered');
  assert.ok(shareA.received.length > 0 && shareB.received.length > 0, `both hosts got mail (${shareA.received.length} / ${shareB.received.length})`);
});

test('a route pointing back at the scanner is a loop: refused with a clear error, the mail kept', async () => {
  const r = await send(['henry@loop.test']);
  assert.equal(r.code, 250, r.response);
  await waitUntil(() => queued().some((q) => /loops back to this gateway/.test(q.last_error ?? '')), 'loop detected');
  const q = queued().find((x) => x.rcpt_to.includes('loop.test'))!;
  assert.match(q.last_error!, new RegExp(`4\\.4\\.6 Mail for loop\\.test loops back to this gateway: 127\\.0\\.0\\.1:${scannerPort} is this scanner`));
});

test('tls: required to a server without STARTTLS: not delivered, the mail waits', async () => {
  const before = rcptsOf(one).length;
  assert.equal((await send(['lee@tls.test'])).code, 250);
  await waitUntil(() => queued().some((q) => q.rcpt_to.includes('lee@tls.test') && q.last_error !== null), 'tls.test deferred');
  assert.match(queued().find((q) => q.rcpt_to.includes('lee@tls.test'))!.last_error!, /4\.7\.5 TLS required but failed/);
  assert.equal(rcptsOf(one).length, before);
});

test('MX routes: the MX host gets the mail, a domain without MX goes to its own address, an MX that is this scanner is a loop', { skip: DNSMASQ_SKIP }, async () => {
  assert.equal((await send(['ivan@mx.test', 'judy@nomx.test', 'kim@mxloop.test'])).code, 250);
  await waitUntil(() => rcptsOf(one).includes('ivan@mx.test') && rcptsOf(two).includes('judy@nomx.test'), 'MX routes delivered');
  await waitUntil(() => queued().some((q) => q.rcpt_to.includes('kim@mxloop.test') && /loops back/.test(q.last_error ?? '')), 'MX loop detected');
  const q = queued().find((x) => x.rcpt_to.includes('mxloop.test'))!;
  assert.match(q.last_error!, new RegExp(`Mail for mxloop\\.test loops back to this gateway: gw\\.mxloop\\.test:${scannerPort} is this scanner`));
});

test('the master lists the routes with each node\'s last outcome', async () => {
  await waitUntil(async () => {
    const res = await api.get('/api/v1/routes');
    const loop = res.json?.items?.find((i: { route: string }) => i.route === 'loop.test');
    return loop?.nodes?.[0]?.last?.state === 'loop';
  }, 'route health on the master', 15_000);
  const res = await api.get('/api/v1/routes');
  assert.equal(res.status, 200, res.text);
  const byRoute = new Map<string, any>(res.json.items.map((i: { route: string }) => [i.route, i]));
  assert.deepEqual([...byRoute.keys()], ['one.test', 'two.test', 'failover.test', 'down.test', 'shared.test', 'loop.test', 'tls.test', 'mx.test', 'mxloop.test', 'nomx.test', 'relay']);
  assert.equal(byRoute.get('relay').settings, null);
  assert.deepEqual(byRoute.get('one.test').settings.hosts, [{ host: '127.0.0.1', port: one.port, priority: 10 }]);
  const last = (route: string) => byRoute.get(route).nodes.find((n: { name: string }) => n.name === 'router').last;
  assert.equal(last('one.test').state, 'up');
  assert.equal(last('one.test').host, `127.0.0.1:${one.port}`);
  assert.equal(last('failover.test').state, 'up');
  assert.equal(last('failover.test').host, `127.0.0.1:${two.port}`);
  assert.equal(last('down.test').state, 'up', 'delivered once its server came back');
  assert.ok(last('down.test').deferred >= 1);
  assert.equal(last('relay').state, 'up');
  assert.equal(last('loop.test').state, 'loop');
  assert.match(last('loop.test').error, /loops back to this gateway/);
  assert.equal((await fetch(`${master.url}/api/v1/routes`)).status, 401);
});
