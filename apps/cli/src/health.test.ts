import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHealth, probeHost, publishHealth } from './health.ts';

test('wildcard listen addresses are probed on loopback', () => {
  assert.equal(probeHost('0.0.0.0'), '127.0.0.1');
  assert.equal(probeHost('::'), '::1');
  assert.equal(probeHost('192.0.2.7'), '192.0.2.7');
});

test('the check says why: no descriptor, a dead process, an HTTP status other than 200; healthy on 200', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-health-'));
  let status = 503;
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'health.json');
  assert.match((await checkHealth(file))!, /no health descriptor/);

  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  writeFileSync(file, JSON.stringify({ role: 'balancer', pid: dead, probe: { kind: 'process' } }));
  assert.match((await checkHealth(file))!, new RegExp(`process ${dead} is not running`));

  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const remove = await publishHealth({ role: 'master', pid: process.pid, probe: { kind: 'http', url } }, file);
  assert.match((await checkHealth(file))!, /answered 503/);
  status = 200;
  assert.equal(await checkHealth(file), null);
  await remove();
  assert.match((await checkHealth(file))!, /no health descriptor/);
});
