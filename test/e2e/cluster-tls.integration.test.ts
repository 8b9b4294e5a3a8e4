import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, expectNeverReady } from '../helpers/cluster-harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

test('wss with the master certificate pinned: the right fingerprint joins, a wrong one never does', async () => {
  const tmp = tempDir('master-tls');
  const key = join(tmp.path, 'key.pem');
  const cert = join(tmp.path, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=moat-master'], { stdio: 'ignore' });
  const fingerprint = new X509Certificate(readFileSync(cert)).fingerprint256;
  const downstream = await startDownstream();
  const master = await startTestMaster({ tls: { cert, key } });
  try {
    assert.match(master.wsUrl, /^wss:/);
    const wrongPin = fingerprint.replace(/^../, fingerprint.startsWith('AA') ? 'BB' : 'AA');
    const outcome = await expectNeverReady((signal) => startClusterScanner('impostor-check', master.wsUrl, downstream.port, { fingerprint: wrongPin, signal }));
    assert.equal(outcome, 'waiting', 'a pin mismatch never gets rules');

    const good = await startClusterScanner('pinned', master.wsUrl, downstream.port, { fingerprint });
    try {
      assert.equal(good.rules.current().version, 1);
      await waitUntil(() => good.link?.isConnected === true, 'the pinned link up');
    } finally {
      await good.close();
    }
  } finally {
    await master.close();
    await downstream.close();
    tmp.cleanup();
  }
});
