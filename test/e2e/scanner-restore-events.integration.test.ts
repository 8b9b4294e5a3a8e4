import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Started = Awaited<ReturnType<typeof startClusterScanner>>;

/**
 * Issue 18 (High): a scanner restored from a backup numbered its outbox again from the backup's
 * last seq, and the master, keyed on (node, seq), dropped its new events as re-sends: mail it
 * quarantined after the restore never reached the console. Events now carry the scanner run's
 * epoch (new at every start), so no copy of the data folder can make a new event look old.
 */
test('a scanner restored from `moat backup scanner`, then from a cold copy of its data folder, gets every later event to the master exactly once', async () => {
  const dirs = tempDir('restore-events');
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const data = join(dirs.path, 'data');
  let scanner: Started = await startClusterScanner('rs-1', master.wsUrl, downstream.port, { dataDir: data });
  const api = await apiClient(master.url);
  const held: string[] = [];
  /** Quarantine one message; resolve once every event of the scanner's is acknowledged by the master. */
  const quarantine = async (subject: string): Promise<string> => {
    const sent = await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `QUARANTINE-ME ${subject}` }));
    assert.ok(sent.ok, sent.response);
    const id = /queued as (\S+)/.exec(sent.response)![1]!;
    held.push(id);
    await waitUntil(() => scanner.db.prepare('SELECT count(*) FROM outbox').pluck().get() === 0, `the master acknowledging the events of ${subject}`);
    return id;
  };
  const onMaster = async (id: string, what: string) => assert.equal((await api.get(`/api/v1/quarantine/${id}`)).status, 200, `${what}: quarantined ${id} is in the master's index`);
  try {
    await onMaster(await quarantine('before the backup'), 'before the backup');
    const yaml = join(dirs.path, 'scanner.yaml');
    writeFileSync(yaml, stringify({ node: { name: 'rs-1' }, dataDir: data, master: { url: master.wsUrl } }));
    const backup = join(dirs.path, 'backup');
    const run = spawnSync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'backup', 'scanner', '--config', yaml, '--out', backup], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    // Events the master stores after the backup: their seqs are what a restored node would reuse.
    await onMaster(await quarantine('after the backup 1'), 'after the backup');
    await onMaster(await quarantine('after the backup 2'), 'after the backup');

    // Restore the backup into the node's folder (docs/operator-guide.md) and start it there.
    await scanner.close();
    rmSync(data, { recursive: true });
    cpSync(backup, data, { recursive: true });
    scanner = await startClusterScanner('rs-1', master.wsUrl, downstream.port, { dataDir: data });
    await onMaster(await quarantine('after the restore'), 'after the restore from the backup');

    // A disk snapshot no restore command ever sees: a cold copy of the folder put back later.
    await scanner.close();
    const snapshot = join(dirs.path, 'snapshot');
    cpSync(data, snapshot, { recursive: true });
    scanner = await startClusterScanner('rs-1', master.wsUrl, downstream.port, { dataDir: data });
    await onMaster(await quarantine('after the snapshot 1'), 'after the snapshot');
    await onMaster(await quarantine('after the snapshot 2'), 'after the snapshot');
    await scanner.close();
    rmSync(data, { recursive: true });
    cpSync(snapshot, data, { recursive: true });
    scanner = await startClusterScanner('rs-1', master.wsUrl, downstream.port, { dataDir: data });
    await onMaster(await quarantine('after the snapshot was put back'), 'after the snapshot was put back');

    // Exactly once: every message in the log once, and no node flagged (each start was a new run).
    const logged = (await api.get('/api/v1/messages?limit=100')).json.items as { id: string }[];
    assert.deepEqual(logged.map((m) => m.id).sort(), [...held].sort());
    const node = (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'rs-1');
    assert.equal(node.eventsRewound, undefined);
  } finally {
    await scanner.close();
    await master.close();
    await downstream.close();
    dirs.cleanup();
  }
});
