import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { startBalancer, validateBalancerConfig } from '@moat/balancer';
import { createLogger } from '@moat/scanner';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestScanner } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';

/** The first reply line a server sends on connect. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setEncoding('latin1');
    socket.once('data', (line: string) => (socket.destroy(), resolve(line.trim())));
    socket.once('error', reject);
  });
}

/**
 * A scanner short of disk space says so at the greeting (421 4.3.1), so nothing is refused at
 * DATA: the balancer hands the client to another scanner without the client noticing. The
 * space check is forced here with a minimum no disk can meet (the real ENOSPC case is in
 * `pnpm test:faults`, on a tmpfs).
 */
test('a scanner short of disk space greets with 421 4.3.1 and the balancer sends its clients to the other scanner', { timeout: 30_000 }, async (t) => {
  const downstream = await startDownstream();
  const full = await startTestScanner(downstream.port, { overrides: { storage: { minFreeMegabytes: 2 ** 40, checkIntervalSeconds: 0.1 } } });
  const roomy = await startTestScanner(downstream.port, { overrides: { storage: { minFreeMegabytes: 1 } } });
  const lb = await startBalancer(validateBalancerConfig({
    listen: { host: '127.0.0.1', port: 0 },
    proxyProtocol: 'off',
    upstreams: [{ name: 'full', host: '127.0.0.1', port: full.port, weight: 10 }, { name: 'roomy', host: '127.0.0.1', port: roomy.port, weight: 1 }],
  }, 'test balancer'), { log: createLogger('silent', { role: 'balancer' }) });
  t.after(async () => {
    await lb.close();
    await full.close();
    await roomy.close();
    await downstream.close();
  });

  assert.match(await greeting(full.port), /^421 4\.3\.1 .*Insufficient system storage/);
  assert.match(await greeting(roomy.port), /^220 /);
  // Direct to the full node: the sending MTA is told to come back (or try its next MX).
  const direct = await sendMail(full.port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'direct' }));
  assert.equal(direct.ok, false);
  assert.equal(direct.code, 421);
  // Through the balancer, even with the full node weighted 10:1, every message gets its 250.
  const port = lb.status().listen!.port;
  for (let i = 0; i < 5; i++) {
    const r = await sendMail(port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `via-lb-${i}` }));
    assert.equal(r.code, 250, r.response);
  }
  await downstream.waitFor(5);
  const counters = lb.status().counters;
  assert.ok(counters.retries >= 1, 'the full node was tried and passed over');
  assert.equal(counters.failures['bad-greeting'], counters.retries, 'each time because of its 421 greeting');
  assert.equal(counters.rejected, 0, 'no client got the balancer\'s own 421');
});
