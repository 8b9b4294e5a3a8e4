import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCluster } from '@moat/cli';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';


test('the local cluster: demo rules give every verdict, delivered mail lands in var/delivered', async () => {
  const tmp = tempDir('local');
  const cluster = await startLocalCluster({ varDir: tmp.path, masterPort: 0, sinkPort: 0, scannerPorts: [0, 0], logLevel: 'silent' });
  try {
    const port = cluster.scanners[0]!.smtpPort;
    const env = { from: 'a@origin.test', to: ['user@example.test'] };
    assert.equal((await sendMail(port, env, message({ subject: 'plain' }))).ok, true);
    assert.equal((await sendMail(port, env, message({ subject: 'TAG-ME' }))).ok, true);
    assert.equal((await sendMail(port, env, message({ subject: 'QUARANTINE-ME' }))).ok, true);
    const blocked = await sendMail(port, { from: 'x@blocked.example', to: ['user@example.test'] }, message());
    assert.equal(blocked.code, 550);

    const delivered = join(tmp.path, 'delivered');
    await waitUntil(() => existsSync(delivered) && readdirSync(delivered).filter((f) => f.endsWith('.json')).length === 2, 'the delivered files');
    const emls = readdirSync(delivered).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(delivered, f), 'utf8'));
    assert.equal(emls.length, 2);
    assert.ok(emls.some((m) => /Subject: \[SPAM\] TAG-ME/.test(m)));
    assert.ok(emls.some((m) => /Subject: plain/.test(m)));
    assert.equal(readdirSync(join(tmp.path, 'scanner-1', 'quarantine')).length, 1);
    assert.equal(cluster.scanners.length, 2);
    assert.ok(cluster.adminPassword.length >= 16, 'an admin password was generated');
    const login = await fetch(`${cluster.master.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: cluster.adminPassword }) });
    assert.equal(login.status, 200);
  } finally {
    await cluster.close();
    tmp.cleanup();
  }
});
