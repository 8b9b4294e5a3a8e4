import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startTestMaster, apiClient, ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { testMasterDatabaseSection } from '../helpers/test-master-db.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('moat master reset-password sets a new password that signs in; the old one no longer does', async () => {
  const dataDir = tempDir('reset').path;
  const first = await startTestMaster({ dataDir });
  await first.close();
  const configFile = join(dataDir, 'master.yaml');
  writeFileSync(configFile, stringify({ dataDir, ...(await testMasterDatabaseSection(dataDir)), http: { port: 0 }, log: { level: 'silent' } }));
  const run = spawnSync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'master', 'reset-password', '--config', configFile], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  const password = /new password for admin: (\S+)/.exec(run.stdout)?.[1];
  assert.ok(password && password.length >= 20);

  const again = await startTestMaster({ dataDir });
  try {
    await assert.rejects(apiClient(again.url, 'admin', ADMIN_PASSWORD), /login failed: 401/);
    const api = await apiClient(again.url, 'admin', password);
    const audit = (await api.get('/api/v1/audit?limit=20')).json;
    assert.ok(JSON.stringify(audit).includes('user.password.reset'));
  } finally {
    await again.close();
  }
});
