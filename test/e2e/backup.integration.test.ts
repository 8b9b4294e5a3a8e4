import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient } from '../helpers/cluster-harness.ts';
import { freePort } from '../helpers/ports.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** `moat backup ROLE --config FILE --out DIR` as an operator runs it, beside the running node. */
function backup(role: string, config: string, out: string): Record<string, unknown> {
  const run = spawnSync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'backup', role, '--config', config, '--out', out], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(report.event, 'BACKUP_DONE');
  return report;
}

test('online backups of the master and a scanner restore a working cluster: the node rejoins as itself, its quarantined message is released', async () => {
  const dirs = tempDir('backup');
  const downstream = await startDownstream();
  const port = await freePort();
  // SQLite: `moat backup master` copies master.sqlite (on PostgreSQL, the engine's own tools: docs/database.md).
  let master = await startTestMaster({ port, database: 'sqlite' });
  let scanner = await startClusterScanner('bk-1', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    const sent = await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME before the backup' }));
    assert.ok(sent.ok, sent.response);
    const heldId = /queued as (\S+)/.exec(sent.response)![1]!;
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${heldId}`)).status === 200, 'the quarantine index on the master');
    const original = readFileSync(join(scanner.dataDirPath, 'quarantine', readdirSync(join(scanner.dataDirPath, 'quarantine'))[0]!));

    // Both backups while both nodes run.
    const masterYaml = join(dirs.path, 'master.yaml');
    writeFileSync(masterYaml, stringify({ dataDir: master.dataDir, log: { level: 'silent' } }));
    const scannerYaml = join(dirs.path, 'scanner.yaml');
    writeFileSync(scannerYaml, stringify({ node: { name: 'bk-1' }, dataDir: scanner.dataDirPath, master: { url: master.wsUrl } }));
    const mReport = backup('master', masterYaml, join(dirs.path, 'master-backup'));
    assert.ok(Number(mReport.pages) > 0);
    const sReport = backup('scanner', scannerYaml, join(dirs.path, 'scanner-backup'));
    assert.equal(sReport.quarantineFiles, 1);
    assert.equal(sReport.droppedRows, 0);
    assert.deepEqual(sReport.extraFiles, ['node-key.pem', 'cluster-credential.json', 'rules.json']);
    const copied = readdirSync(join(dirs.path, 'scanner-backup', 'quarantine'));
    assert.deepEqual(readFileSync(join(dirs.path, 'scanner-backup', 'quarantine', copied[0]!)), original, 'the quarantined file byte for byte');

    // A backup never overwrites.
    const again = spawnSync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'backup', 'master', '--config', masterYaml, '--out', join(dirs.path, 'master-backup')], { encoding: 'utf8' });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /not empty/);

    // Disaster: both nodes lose their data. Restore each into a fresh folder and start it there.
    await scanner.close();
    await master.close();
    const masterData = join(dirs.path, 'master-restored');
    cpSync(join(dirs.path, 'master-backup'), masterData, { recursive: true });
    master = await startTestMaster({ port, dataDir: masterData, database: 'sqlite' });
    const scannerData = join(dirs.path, 'scanner-restored');
    cpSync(join(dirs.path, 'scanner-backup'), scannerData, { recursive: true });
    // No join token: the restored node must come back with its own restored key.
    scanner = await startClusterScanner('bk-1', master.wsUrl, downstream.port, { dataDir: scannerData, joinToken: null });

    const restoredApi = await apiClient(master.url);
    await waitUntil(async () => (await restoredApi.get('/api/v1/nodes')).json.items.some((n: { name: string; online: boolean }) => n.name === 'bk-1' && n.online), 'the restored scanner online with its own key');
    assert.equal((await restoredApi.get(`/api/v1/quarantine/${heldId}`)).status, 200, 'the master\'s index survived');
    const released = await restoredApi.post(`/api/v1/quarantine/${heldId}/release`);
    assert.equal(released.status, 200, released.text);
    await downstream.waitFor(1);
    assert.match(downstream.received[0]!.raw.toString(), /QUARANTINE-ME before the backup/);
  } finally {
    await scanner.close();
    await master.close();
    await downstream.close();
    dirs.cleanup();
  }
});
