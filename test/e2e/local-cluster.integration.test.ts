import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCluster } from '@moat/cli';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';
import { freePort } from '../helpers/ports.ts';


test('the local cluster: demo rules give every verdict, delivered mail lands in var/delivered', async () => {
  const tmp = tempDir('local');
  const [s1, s2, virtual, e1, e2] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const cluster = await startLocalCluster({ varDir: tmp.path, masterPort: 0, sinkPort: 0, scannerPorts: [s1, s2], virtualPort: virtual, electionPorts: [e1, e2], logLevel: 'silent' });
  try {
    const port = cluster.scanners[0]!.smtpPort;
    const env = { from: 'a@origin.test', to: ['user@example.test'] };
    assert.equal((await sendMail(port, env, message({ subject: 'plain' }))).ok, true);
    assert.equal((await sendMail(port, env, message({ subject: 'TAG-ME' }))).ok, true);
    assert.equal((await sendMail(port, env, message({ subject: 'QUARANTINE-ME' }))).ok, true);
    const blocked = await sendMail(port, { from: 'x@blocked.example', to: ['user@example.test'] }, message());
    assert.equal(blocked.code, 550);

    // The virtual address: one scanner holds it (the election), mail through it lands too.
    await waitUntil(() => cluster.scanners.filter((s) => s.balancer?.status().holder).length === 1, 'one holder of the virtual address');
    const viaVirtual = await sendMail(virtual, env, message({ subject: 'via the virtual address' }));
    assert.equal(viaVirtual.ok, true, viaVirtual.response);

    const delivered = join(tmp.path, 'delivered');
    await waitUntil(() => existsSync(delivered) && readdirSync(delivered).filter((f) => f.endsWith('.json')).length === 3, 'the delivered files');
    const emls = readdirSync(delivered).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(delivered, f), 'utf8'));
    assert.equal(emls.length, 3);
    assert.ok(emls.some((m) => /Subject: via the virtual address/.test(m) && /Received: from .* \(\[127\.0\.0\.1\]\)/.test(m)), 'the scanner saw the real client address through PROXY');
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
