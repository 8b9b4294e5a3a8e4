import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** `moat ARGS` as an admin runs it from a laptop: a real process, its output and exit status. */
function moat(args: string[], token: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (token === undefined) delete env.MOAT_TOKEN;
  else env.MOAT_TOKEN = token;
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), ...args], { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('moat status, node drain|undrain|remove and quarantine list|release over the REST API with a token', { timeout: 120_000 }, async (t) => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const scannerA = await startClusterScanner('scanner-a', master.wsUrl, downstream.port);
  const scannerB = await startClusterScanner('scanner-b', master.wsUrl, downstream.port);
  let scannerBStopped = false;
  t.after(async () => {
    await scannerA.close();
    if (!scannerBStopped) await scannerB.close();
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  const admin = (await api.post('/api/v1/tokens', { name: 'laptop' })).json.token as string;
  assert.equal((await api.post('/api/v1/users', { username: 'audrey', password: 'auditor password 1', role: 'auditor' })).status, 201);
  const auditor = (await (await apiClient(master.url, 'audrey', 'auditor password 1')).post('/api/v1/tokens', { name: 'read' })).json.token as string;
  const on = ['--master', master.url];
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.filter((n: { online: boolean; rulesCurrent: boolean }) => n.online && n.rulesCurrent).length === 2, 'both scanners online with the current rules');

  for (const subject of ['QUARANTINE-ME alpha', 'QUARANTINE-ME beta']) {
    assert.equal((await sendMail(scannerA.smtpPort, { from: 'sender@origin.test', to: ['user@example.test'] }, message({ subject }))).code, 250);
  }
  await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.length === 2, 'both messages quarantined on the master');

  await t.test('moat status: every node with its state, rules version, queue and outbox; --json for scripts; an auditor may ask', async () => {
    const json = await moat(['status', ...on, '--json'], auditor);
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout);
    const rulesVersion = (await api.get('/api/v1/rules')).json.version;
    assert.equal(status.master.rulesVersion, rulesVersion);
    assert.equal(status.master.url, master.url);
    assert.deepEqual(status.nodes.map((n: { name: string; state: string; rulesVersion: number; rulesCurrent: boolean }) => [n.name, n.state, n.rulesVersion, n.rulesCurrent]).sort(), [['scanner-a', 'online', rulesVersion, true], ['scanner-b', 'online', rulesVersion, true]]);
    for (const n of status.nodes) {
      assert.equal(typeof n.queueDepth, 'number');
      assert.equal(typeof n.outboxBacklog, 'number');
    }
    const table = await moat(['status', ...on], auditor);
    assert.equal(table.code, 0, table.stderr);
    assert.ok(table.stdout.startsWith(`master ${master.url}\n`), table.stdout);
    assert.match(table.stdout, /\nNODE +STATE +RULES +QUEUE +OUTBOX +VIRTUAL ADDRESS +LAST SEEN +ENGINES\n/);
    assert.match(table.stdout, new RegExp(`\\nscanner-a +online +${rulesVersion} +\\d+ +\\d+ +- +now +-\\n`), 'no analyzers: no engines reported');
  });

  await t.test('without a token, or with a wrong one, it says why and exits 1', async () => {
    const none = await moat(['status', ...on], undefined);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^moat: --master needs an API token in MOAT_TOKEN/);
    const wrong = await moat(['status', ...on], 'moat_0000000000000000_nope');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /HTTP 401 MOAT_ERR_UNAUTHENTICATED/);
  });

  let alpha = '';
  await t.test('moat quarantine list: a table, the filters, --json, --limit', async () => {
    const all = await moat(['quarantine', 'list', ...on], auditor);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^ID +QUARANTINED +NODE +STATUS +SCORE +FROM +TO +SUBJECT\n/);
    assert.equal(all.stdout.trim().split('\n').length, 3, all.stdout);
    const one = await moat(['quarantine', 'list', ...on, '--subject', 'alpha', '--json'], auditor);
    assert.equal(one.code, 0, one.stderr);
    const items = JSON.parse(one.stdout).items as { id: string; nodeName: string; subject: string }[];
    assert.deepEqual(items.map((q) => [q.subject, q.nodeName]), [['QUARANTINE-ME alpha', 'scanner-a']]);
    alpha = items[0]!.id;
    const limited = await moat(['quarantine', 'list', ...on, '--limit', '1'], auditor);
    assert.match(limited.stdout, /\(more: narrow the search or raise --limit\)\n$/);
    const none = await moat(['quarantine', 'list', ...on, '--sender', 'nobody@nowhere'], auditor);
    assert.equal(none.stdout, 'no quarantined message matches\n');
    for (const bad of [['--limit', '0'], ['--status', 'lost']]) {
      const usage = await moat(['quarantine', 'list', ...on, ...bad], auditor);
      assert.equal(usage.code, 2, `${bad.join(' ')}: ${usage.stderr}`);
      assert.match(usage.stderr, /^moat: --(limit|status) must be/);
    }
  });

  await t.test('moat quarantine release: refused for the wrong node or an auditor, released on its node, then no longer held', async () => {
    const wrongNode = await moat(['quarantine', 'release', alpha, '--node', 'scanner-b', ...on], admin);
    assert.equal(wrongNode.code, 1);
    assert.match(wrongNode.stderr, /is on node scanner-a, not scanner-b: nothing released/);
    const readOnly = await moat(['quarantine', 'release', alpha, ...on], auditor);
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /HTTP 403 MOAT_ERR_FORBIDDEN/);
    const released = await moat(['quarantine', 'release', alpha, '--node', 'scanner-a', ...on], admin);
    assert.equal(released.code, 0, released.stderr);
    assert.match(released.stdout, new RegExp(`^released ${alpha} on scanner-a: QUARANTINE-ME alpha from sender@origin.test\\n$`));
    await downstream.waitFor(1);
    assert.match(downstream.received[0]!.raw.toString(), /Subject: QUARANTINE-ME alpha/);
    const again = await moat(['quarantine', 'release', alpha, ...on], admin);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /HTTP 409 MOAT_ERR_CONFLICT: message \w+ is released, no longer held/);
    const unknown = await moat(['quarantine', 'release', 'A'.repeat(20), ...on], admin);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /HTTP 404 MOAT_ERR_NOT_FOUND/);
  });

  await t.test('moat node drain / undrain: the rules\' maintenance flag, one new version each, shown by moat status', async () => {
    const before = (await api.get('/api/v1/rules')).json.version as number;
    const drained = await moat(['node', 'drain', 'scanner-b', ...on], admin);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, new RegExp(`^scanner-b drained: rules version ${before + 1} pushed`));
    const rules = (await api.get('/api/v1/rules')).json;
    assert.deepEqual(rules.document.nodes['scanner-b'], { maintenance: true, weight: 1, backup: false });
    const audit = (await api.get('/api/v1/audit?action=rules.update')).json.entries[0];
    assert.match(JSON.stringify(audit), /moat node drain scanner-b/);
    const twice = await moat(['node', 'drain', 'scanner-b', ...on], admin);
    assert.equal(twice.code, 0);
    assert.match(twice.stdout, /scanner-b is already drained .*nothing to change/);
    assert.equal((await api.get('/api/v1/rules')).json.version, before + 1, 'no version for a drain that changes nothing');
    const status = JSON.parse((await moat(['status', ...on, '--json'], auditor)).stdout);
    assert.equal(status.nodes.find((n: { name: string }) => n.name === 'scanner-b').state, 'draining');
    const undrained = await moat(['node', 'undrain', 'scanner-b', ...on], admin);
    assert.equal(undrained.code, 0, undrained.stderr);
    assert.match(undrained.stdout, new RegExp(`^scanner-b undrained: rules version ${before + 2} pushed`));
    assert.equal((await api.get('/api/v1/rules')).json.document.nodes['scanner-b'], undefined, 'the entry back at its defaults is gone');
    const unknown = await moat(['node', 'drain', 'scanner-z', ...on], admin);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^moat: no node named scanner-z in the cluster \(its nodes: scanner-a, scanner-b\)/);
    const readOnly = await moat(['node', 'drain', 'scanner-b', ...on], auditor);
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /HTTP 403/);
    const usage = await moat(['node', 'drain', ...on], admin);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^moat: node drain needs NAME/);
  });

  await t.test('moat node remove: refused while connected; once stopped, shown offline, then removed', async () => {
    const online = await moat(['node', 'remove', 'scanner-b', ...on], admin);
    assert.equal(online.code, 1);
    assert.match(online.stderr, /^moat: scanner-b is connected: drain it, stop it, then remove it/);
    await scannerB.close();
    scannerBStopped = true;
    await waitUntil(async () => JSON.parse((await moat(['status', ...on, '--json'], auditor)).stdout).nodes.some((n: { name: string; state: string }) => n.name === 'scanner-b' && n.state === 'offline'), 'moat status shows scanner-b offline', 20_000, 200);
    const table = await moat(['status', ...on], auditor);
    assert.match(table.stdout, /\nscanner-b +offline +\d+ +\d+ +\d+ +- +\d+s ago +-\n/);
    const removed = await moat(['node', 'remove', 'scanner-b', ...on], admin);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^scanner-b removed: its key is erased/);
    const after = JSON.parse((await moat(['status', ...on, '--json'], auditor)).stdout);
    assert.deepEqual(after.nodes.map((n: { name: string }) => n.name), ['scanner-a']);
  });
});
