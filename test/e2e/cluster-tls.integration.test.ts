import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, expectNeverReady } from '../helpers/cluster-harness.ts';
import { selfSignedCert } from '../helpers/tls-cert.ts';
import { waitUntil } from '../helpers/wait.ts';

test('wss with the master certificate pinned: the right fingerprint joins, a wrong one never does', async () => {
  const { key, cert, fingerprint, wrongPin, cleanup } = selfSignedCert('moat-master');
  const downstream = await startDownstream();
  const master = await startTestMaster({ tls: { cert, key } });
  try {
    assert.match(master.wsUrl, /^wss:/);
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
    cleanup();
  }
});
