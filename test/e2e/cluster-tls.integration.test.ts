import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner } from '../helpers/cluster-harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';

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
    const wrong = startClusterScanner('impostor-check', master.wsUrl, downstream.port, { fingerprint: fingerprint.replace(/^../, fingerprint.startsWith('AA') ? 'BB' : 'AA') });
    const outcome = await Promise.race([wrong.then(() => 'joined'), new Promise((r) => setTimeout(() => r('refused'), 1500))]);
    assert.equal(outcome, 'refused', 'a pin mismatch never gets rules');
    void wrong.then((s) => s.close(), () => undefined);

    const good = await startClusterScanner('pinned', master.wsUrl, downstream.port, { fingerprint });
    assert.equal(good.rules.current().version, 1);
    assert.equal(good.link?.isConnected, true);
    await good.close();
  } finally {
    await master.close();
    await downstream.close();
    tmp.cleanup();
  }
});
