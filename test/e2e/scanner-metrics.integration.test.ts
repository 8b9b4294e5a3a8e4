import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateRules } from '@moat/rules';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster, type ApiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY_FILES = ['deploy/prometheus/moat-alerts.yml', 'deploy/grafana/moat-dashboard.json'];

/** One sample's value from a Prometheus text exposition, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

/** Metric families on the page (`# TYPE` lines). */
function families(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

async function scrape(api: ApiClient): Promise<string> {
  const r = await api.get('/metrics');
  assert.equal(r.status, 200);
  return r.text;
}

/**
 * Every scanner's metrics on the master's /metrics (issue 20): the scanner's counters ride its
 * heartbeat (protocol 6) and the master serves them per node, with the cluster's verdict counts
 * kept across a scanner restart. The Grafana dashboard and the alert rules in deploy/ use only
 * metrics that exist there. A master that speaks protocol 5 gets heartbeats without them.
 */
test('scanner metrics: served by the master per node, the cluster total kept across a restart, every deploy/ metric exists', { timeout: 120_000 }, async (t) => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  let scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port);
  t.after(async () => {
    await scanner.close();
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  const node = { node: 'scanner-1' };

  // A delivered message, a quarantined one, a refused sender (MAIL) and a refused recipient (RCPT).
  assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message())).ok, true);
  assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME' }))).ok, true);
  const blocked = await sendMail(scanner.smtpPort, { from: 'x@blocked.example', to: ['user@example.test'] }, message());
  const relayDenied = await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@elsewhere.test'] }, message());
  assert.equal(blocked.ok, false);
  assert.equal(relayDenied.ok, false);

  let text = '';
  await waitUntil(async () => {
    text = await scrape(api);
    return sample(text, 'moat_scanner_relay_recipients_total', { ...node, outcome: 'delivered' }) === 1
      && sample(text, 'moat_scanner_messages_total', { ...node, verdict: 'quarantine' }) === 1
      && (sample(text, 'moat_scanner_smtp_sessions_total', node) ?? 0) >= 4
      // the master's quarantine index, from the scanner's events (which may trail its heartbeat)
      && sample(text, 'moat_quarantine_held_messages', node) === 1;
  }, 'the first messages counted on the master', 15_000, 100);

  await t.test('per node: verdicts, reason kinds, SMTP sessions and refusals by code, relay outcomes', () => {
    assert.equal(sample(text, 'moat_scanner_messages_total', { ...node, verdict: 'deliver' }), 1);
    assert.equal(sample(text, 'moat_scanner_message_reasons_total', { ...node, verdict: 'quarantine', kind: 'content' }), 1);
    assert.equal(sample(text, 'moat_scanner_smtp_sessions_total', node), 4);
    assert.equal(sample(text, 'moat_scanner_smtp_refusals_total', { ...node, stage: 'mail', code: String(blocked.code) }), 1);
    assert.equal(sample(text, 'moat_scanner_smtp_refusals_total', { ...node, stage: 'rcpt', code: String(relayDenied.code) }), 1);
    assert.equal(sample(text, 'moat_scanner_relay_recipients_total', { ...node, outcome: 'bounced' }), 0);
    assert.match(text, /# TYPE moat_scanner_messages_total counter/);
    assert.equal(sample(text, 'moat_messages_total', { verdict: 'deliver' }), 1, 'the cluster total');
    assert.equal(sample(text, 'moat_messages_total', { verdict: 'quarantine' }), 1);
  });

  await t.test('gauges: the queue\'s oldest message, disk use against the budgets from the rules', () => {
    assert.equal(sample(text, 'moat_node_queue_oldest_seconds', node), 0, 'the queue is empty once delivered');
    const held = sample(text, 'moat_node_disk_used_bytes', { ...node, store: 'quarantine' });
    assert.ok(held !== undefined && held > 0, `quarantine bytes: ${held}`);
    assert.equal(held, sample(text, 'moat_quarantine_held_bytes', node), 'the scanner\'s count agrees with the master\'s index');
    const rules = validateRules(BASE_RULES);
    assert.equal(sample(text, 'moat_node_disk_budget_bytes', { ...node, store: 'quarantine' }), rules.quarantine.maxBytes);
    assert.ok(sample(text, 'moat_node_disk_used_bytes', { ...node, store: 'retention' }) !== undefined);
  });

  await t.test('every metric the Grafana dashboard and the alert rules use exists on the master', () => {
    const have = families(text);
    for (const file of DEPLOY_FILES) {
      const used = new Set(readFileSync(join(ROOT, file), 'utf8').match(/\bmoat_[a-z0-9_]+/g) ?? []);
      assert.ok(used.size >= 5, `${file} uses moat metrics`);
      const missing = [...used].filter((name) => !have.has(name) && !have.has(name.replace(/_(bucket|sum|count)$/, '')));
      assert.deepEqual(missing, [], `${file}: metrics not on the master's /metrics`);
    }
    JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/moat-dashboard.json'), 'utf8'));
  });

  await t.test('a scanner restart resets its counters; the cluster total keeps counting', async () => {
    const startedBefore = sample(text, 'moat_scanner_start_time_seconds', node);
    await scanner.close();
    scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port, { dataDir: scanner.dataDirPath });
    assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message())).ok, true);
    await waitUntil(async () => {
      text = await scrape(api);
      return sample(text, 'moat_scanner_relay_recipients_total', { ...node, outcome: 'delivered' }) === 1 && sample(text, 'moat_scanner_start_time_seconds', node) !== startedBefore;
    }, 'the restarted scanner\'s first delivery counted', 15_000, 100);
    assert.equal(sample(text, 'moat_scanner_messages_total', { ...node, verdict: 'deliver' }), 1, 'the node\'s counter started again');
    assert.equal(sample(text, 'moat_scanner_messages_total', { ...node, verdict: 'quarantine' }), undefined);
    assert.equal(sample(text, 'moat_messages_total', { verdict: 'deliver' }), 2, 'the cluster total did not go backwards');
    assert.equal(sample(text, 'moat_messages_total', { verdict: 'quarantine' }), 1);
  });

  await t.test('a master that speaks protocol 5 gets heartbeats without metrics and keeps the link', async () => {
    // The scanner offers 6 (a master may be one version behind its scanners): the link speaks 5.
    const old = await startTestMaster({ protocolVersion: 5 });
    const oldScanner = await startClusterScanner('scanner-old', old.wsUrl, downstream.port, { protocolVersion: 6 });
    try {
      const oldApi = await apiClient(old.url);
      const seen: string[] = [];
      await waitUntil(async () => {
        const n = (await oldApi.get('/api/v1/nodes')).json.items[0];
        if (n?.online && n.lastSeen && !seen.includes(n.lastSeen)) seen.push(n.lastSeen);
        return seen.length >= 3;
      }, 'three heartbeats on the version-5 master', 10_000, 100);
      const oldText = await scrape(oldApi);
      assert.equal(sample(oldText, 'moat_node_online', { node: 'scanner-old' }), 1, 'the link stays up');
      assert.equal(sample(oldText, 'moat_node_queue_oldest_seconds', { node: 'scanner-old' }), undefined);
      assert.equal(sample(oldText, 'moat_scanner_smtp_sessions_total', { node: 'scanner-old' }), undefined);
    } finally {
      await oldScanner.close();
      await old.close();
    }
  });
});
