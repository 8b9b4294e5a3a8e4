import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { chromium } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { createLogger } from '@moat/scanner';
import { MasterConfigSchema, mintJoinTokenOffline, startMaster } from '@moat/master';
import { validateDocument } from '@moat/config';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, JOIN_SECRET, ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import { spawnMoat } from '../helpers/scanner-process.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { validateRules } from '@moat/rules';
import { startLocalCluster } from '@moat/cli';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { selfSignedCert } from '../helpers/tls-cert.ts';
import { waitUntil } from '../helpers/wait.ts';
import { captureLog } from '../helpers/log-capture.ts';
import { freePort, freeUdpPortsOutsideEphemeralRange } from '../helpers/ports.ts';
import { startWitness } from '../../apps/master/src/failover/witness.ts';

const env = { from: 'a@origin.test', to: ['user@example.test'] };

/**
 * Messages sent one after another until stopped, each expected to get 250. A refusal is kept,
 * and `check()` throws it, so a wait on `sent` fails with the refusal instead of a time-out.
 */
function steadyMail(port: number, prefix: string) {
  let sent = 0;
  let sending = true;
  let failure: Error | undefined;
  const flow = (async () => {
    while (sending && !failure) {
      const r = await sendMail(port, env, message({ subject: `${prefix}${sent}` }));
      if (r.ok) sent++;
      else failure = new Error(`message ${prefix}${sent} was not accepted: ${r.response}`);
    }
  })();
  return {
    sent: () => sent,
    /** Throws the first refusal, if any; for use inside wait conditions. */
    check(): true {
      if (failure) throw failure;
      return true;
    },
    /** Stops sending; resolves with the count once the last message is answered, or throws the refusal. */
    async stop(): Promise<number> {
      sending = false;
      await flow;
      if (failure) throw failure;
      return sent;
    },
  };
}
const ELECTION_KEY = 'election-key-0123456789';
const count = (db: { prepare(sql: string): { get(): unknown } }, sql: string): number => (db.prepare(sql).get() as { n: number }).n;
const replUrl = (m: { port: number }) => `ws://127.0.0.1:${m.port}/cluster/replication`;

/** Two UDP ports for an election pair; `partitioned` points each at a port nobody listens on. */
async function electionPair(partitioned = false) {
  const [a, b, deadA, deadB] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const el = (self: number, peer: number, priority: number) => ({ bind: { host: '127.0.0.1', port: self }, peers: [{ host: '127.0.0.1', port: peer }], priority, advertIntervalMs: 100, key: ELECTION_KEY });
  return { a: el(a, partitioned ? deadA : b, 200), b: el(b, partitioned ? deadB : a, 100) };
}

test('a standby follows the active master, and a restarted standby resumes from its persisted position', async () => {
  const active = await startTestMaster({ name: 'master-a', failover: { role: 'active' } });
  const standbyDir = tempDir('standby').path;
  const startStandby = () => startTestMaster({ name: 'master-b', dataDir: standbyDir, failover: { role: 'standby', peers: [replUrl(active)] } });
  let standby = await startStandby();
  try {
    const api = await apiClient(active.url);
    assert.equal((await api.put('/api/v1/rules', { ...BASE_RULES, limits: { maxMessageBytes: 123_456, maxRecipients: 5 } })).status, 200);
    assert.equal((await api.post('/api/v1/users', { username: 'auditor1', password: 'auditor-password-1', role: 'auditor' })).status, 201);
    const head = () => count(active.db, 'SELECT max(seq) n FROM repl_changes');
    await waitUntil(() => standby.failover!.status().replication?.appliedSeq === head(), 'the standby caught up');
    assert.equal(count(standby.db, "SELECT count(*) n FROM users WHERE username = 'auditor1'"), 1, 'users replicate');
    assert.equal(count(standby.db, 'SELECT max(version) n FROM rules_versions'), count(active.db, 'SELECT max(version) n FROM rules_versions'), 'rules versions replicate');
    assert.equal(count(standby.db, 'SELECT count(*) n FROM audit'), count(active.db, 'SELECT count(*) n FROM audit'), 'the audit log replicates');
    // The standby serves no API (nothing may be written there), but its /metrics shows its lag.
    assert.equal((await fetch(`${standby.url}/api/v1/rules`)).status, 503);
    // The session made on the active master replicated: the same login reads the standby's metrics.
    const metrics = await (await fetch(`${standby.url}/metrics`, { headers: { cookie: api.cookie } })).text();
    assert.match(metrics, /moat_replication_lag_events 0/);
    assert.equal((await fetch(`${active.url}/api/v1/cluster/masters`)).status, 401, 'the masters route needs a login');
    const onStandby = await fetch(`${standby.url}/api/v1/cluster/masters`, { headers: { cookie: api.cookie } });
    assert.equal(onStandby.status, 503);
    assert.equal(((await onStandby.json()) as { code: string }).code, 'MOAT_ERR_STANDBY');
    const masters = await api.get('/api/v1/cluster/masters');
    assert.equal((masters.json as { role: string }).role, 'active');
    assert.equal((masters.json as { standbys: { name: string }[] }).standbys[0]?.name, 'master-b');

    // Restart the standby while changes go on: it resumes from its position (no snapshot, which would clear its log).
    const position = standby.failover!.status().replication!.appliedSeq;
    const logBefore = count(standby.db, `SELECT count(*) n FROM repl_changes WHERE seq <= ${position}`);
    await standby.close();
    for (let i = 0; i < 3; i++) assert.equal((await api.post('/api/v1/users', { username: `user${i}`, password: 'user-password-123', role: 'auditor' })).status, 201);
    standby = await startStandby();
    await waitUntil(() => standby.failover!.status().replication?.appliedSeq === head(), 'the restarted standby caught up');
    assert.equal(count(standby.db, `SELECT count(*) n FROM repl_changes WHERE seq <= ${position}`), logBefore, 'its log before the restart is intact: it resumed, not re-copied');
    assert.equal(count(standby.db, "SELECT count(*) n FROM users WHERE username LIKE 'user%'"), 3);
  } finally {
    await standby.close();
    await active.close();
  }
});

test('the active master fails under steady mail: the standby takes over, the scanner follows, every event is stored exactly once; the old master returns as standby', async () => {
  const downstream = await startDownstream();
  const el = await electionPair();
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const urlA = `ws://127.0.0.1:${portA}`;
  const urlB = `ws://127.0.0.1:${portB}`;
  const dirA = tempDir('master-a').path;
  const startA = () => startTestMaster({ name: 'master-a', dataDir: dirA, port: portA, failover: { peers: [`${urlB}/cluster/replication`], election: el.a } });
  let a = await startA();
  await waitUntil(() => a.failover!.isActive(), 'master-a active');
  // master-b's hooks would move the management address; here they write down what they were told.
  const hookLog = join(tempDir('hooks').path, 'hooks.log');
  const hooks = { active: `echo "$MOAT_HA_STATE $MOAT_HA_VIP" >> ${hookLog}`, standby: `echo "$MOAT_HA_STATE $MOAT_HA_VIP" >> ${hookLog}` };
  const b = await startTestMaster({ name: 'master-b', port: portB, failover: { peers: [`${urlA}/cluster/replication`], election: { ...el.b, address: '127.0.0.9', hooks } } });
  const scanner = await startClusterScanner('s1', [`${urlA}/cluster`, `${urlB}/cluster`], downstream.port);
  const mail = steadyMail(scanner.smtpPort, 'm');
  try {
    // A steady state, not a time limit (as in the kill -9 test below): 20 sequential messages,
    // each behind smtp-server's 100 ms greeting pause, took over 10 s on a loaded CI run once.
    await waitUntil(() => mail.check() && mail.sent() >= 20 && b.failover!.status().replication?.connected, 'mail flowing, standby following', 45_000);
    const epochA = a.failover!.epoch();
    const firstSeqA = count(a.db, 'SELECT min(seq) n FROM repl_changes');
    await a.close({ abrupt: true });
    await waitUntil(() => b.failover!.isActive(), 'master-b took over', 15_000);
    assert.ok(b.failover!.epoch() > epochA, 'a new, higher epoch');
    assert.deepEqual(readFileSync(hookLog, 'utf8').trim().split('\n'), ['standby 127.0.0.9', 'active 127.0.0.9'], 'the standby hook at start, the active hook on taking over');
    const atTakeover = mail.sent();
    await waitUntil(() => mail.check() && mail.sent() >= atTakeover + 20, 'mail kept flowing after the takeover: 20 more accepted', 45_000);
    const sent = await mail.stop();
    await waitUntil(() => count(b.db, 'SELECT count(*) n FROM messages') === sent, `all ${sent} messages on master-b`, 15_000);
    assert.equal(count(b.db, 'SELECT count(*) n FROM (SELECT id FROM messages GROUP BY id, node_id HAVING count(*) > 1)'), 0, 'none twice');
    await waitUntil(() => count(scanner.db, 'SELECT count(*) n FROM outbox') === 0, 'the outbox drained');
    assert.equal(count(b.db, 'SELECT count(*) n FROM messages'), sent, 'still exactly once after the outbox drained');
    // The console works on the new master with the same login.
    const api = await apiClient(`http://127.0.0.1:${portB}`);
    assert.equal((await api.get('/api/v1/messages?limit=1')).status, 200);
    // The old master comes back: it stays standby (preemption off) and catches up.
    a = await startA();
    await waitUntil(() => a.failover!.status().replication?.connected && a.failover!.status().replication?.lagEvents === 0, 'old master caught up as standby', 15_000);
    assert.equal(a.failover!.isActive(), false);
    assert.equal(count(a.db, 'SELECT count(*) n FROM messages'), sent);
    assert.equal(count(a.db, 'SELECT min(seq) n FROM repl_changes'), firstSeqA, 'it caught up from its own log (undoing what master-b never got), not by a full copy');
  } finally {
    await mail.stop().catch(() => undefined);
    await scanner.close();
    await a.close();
    await b.close();
    await downstream.close();
  }
});

test('a master below the epoch a scanner has seen cannot push its rules: the scanner refuses it and the master steps down', async () => {
  const downstream = await startDownstream();
  const dirA = tempDir('master-a').path;
  const dirB = tempDir('master-b').path;
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const replA = `ws://127.0.0.1:${portA}/cluster/replication`;
  const replB = `ws://127.0.0.1:${portB}/cluster/replication`;
  let a = await startTestMaster({ name: 'master-a', dataDir: dirA, port: portA, failover: { role: 'active', peers: [replB] } });
  let b = await startTestMaster({ name: 'master-b', dataDir: dirB, port: portB, failover: { role: 'standby', peers: [replA] } });
  let scanner = await startClusterScanner('s1', a.wsUrl, downstream.port);
  const rulesFile = join(scanner.dataDirPath, 'rules.json');
  try {
    await waitUntil(() => b.failover!.status().replication?.lagEvents === 0 && count(b.db, 'SELECT count(*) n FROM nodes') === 1, 'master-b has the node registry');
    // master-a is cut off; master-b is made active (and has had more terms since: epoch 5).
    const firstSeqA = count(a.db, 'SELECT min(seq) n FROM repl_changes');
    await scanner.close();
    await a.close();
    await b.close();
    b = await startTestMaster({ name: 'master-b', dataDir: dirB, port: portB, failover: { role: 'active', peers: [replA] } });
    b.db.prepare('UPDATE repl_state SET epoch = 5').run();
    scanner = await startClusterScanner('s1', [b.wsUrl], downstream.port, { dataDir: scanner.dataDirPath });
    await waitUntil(() => b.hub.onlineNodeIds().size === 1, 'the scanner follows master-b');
    await scanner.close();
    const rulesBefore = readFileSync(rulesFile, 'utf8');
    // master-a comes back believing it is active, with other rules to push, at a lower epoch.
    a = await startTestMaster({ name: 'master-a', dataDir: dirA, port: portA, failover: { role: 'active', peers: [replB] }, seed: validateRules({ ...BASE_RULES, limits: { maxMessageBytes: 4096, maxRecipients: 5 } }) });
    assert.ok(a.failover!.epoch() < 5);
    const api = await apiClient(a.url);
    assert.equal((await api.put('/api/v1/rules', { ...BASE_RULES, limits: { maxMessageBytes: 4096, maxRecipients: 5 } })).status, 200);
    scanner = await startClusterScanner('s1', [a.wsUrl], downstream.port, { dataDir: scanner.dataDirPath });
    await waitUntil(() => !a.failover!.isActive(), 'the stale master stepped down');
    assert.equal(a.failover!.epoch(), 5, 'it learned the higher epoch from the scanner');
    assert.equal(readFileSync(rulesFile, 'utf8'), rulesBefore, 'its rules were never applied');
    await waitUntil(() => a.failover!.status().replication?.connected && a.failover!.status().replication?.lagEvents === 0, 'it follows master-b now');
    // What it saved while stale (a rules version nobody else has) is undone, from its own log, not by a full copy.
    const maxVersion = (db: typeof a.db) => count(db, 'SELECT max(version) n FROM rules_versions');
    assert.equal(maxVersion(a.db), maxVersion(b.db), 'the stale rules version is gone');
    assert.equal(count(a.db, 'SELECT min(seq) n FROM repl_changes'), firstSeqA, 'rolled back, not re-copied');
  } finally {
    await scanner.close();
    await a.close();
    await b.close();
    await downstream.close();
  }
});

test('a partition between two masters: without a witness both become active; with one, only one does', async () => {
  const witnessDir = tempDir('witness').path;
  const witnessLog = captureLog({ role: 'witness' }, 'info');
  const witness = await startWitness({ host: '127.0.0.1', port: 0, key: 'witness-key-0123456789', leaseMs: 1000, stateFile: `${witnessDir}/witness.json`, log: witnessLog.log });
  const pair = async (withWitness: boolean) => {
    const el = await electionPair(true);
    const extra = withWitness ? { witness: { url: witness.url, key: 'witness-key-0123456789' } } : {};
    // The partition cuts the replication links too: each one's peer is a port nobody listens on.
    const nowhere = [`ws://127.0.0.1:${await freePort()}/cluster/replication`];
    const a = await startTestMaster({ name: 'master-a', failover: { election: el.a, peers: nowhere, ...extra } });
    const b = await startTestMaster({ name: 'master-b', failover: { election: el.b, peers: nowhere, ...extra } });
    return { a, b, close: async () => { await a.close(); await b.close(); } };
  };
  try {
    // Each one's adverts go nowhere: both win their own election, and with nobody to ask both act.
    const alone = await pair(false);
    try {
      await waitUntil(() => alone.a.failover!.isActive() && alone.b.failover!.isActive(), 'both active: a two-master pair without a witness cannot tell a partition from a failure');
    } finally {
      await alone.close();
    }

    const { a, b, close } = await pair(true);
    let both = false;
    const watch = setInterval(() => (both ||= a.failover!.isActive() && b.failover!.isActive()), 5);
    try {
      await waitUntil(() => a.failover!.isActive() || b.failover!.isActive(), 'one is active');
      const [winner, loser] = a.failover!.isActive() ? [a, b] : [b, a];
      const [winnerName, loserName] = [winner.failover!.status().name, loser.failover!.status().name];
      // The other one keeps winning its own election (it hears no adverts) and asking the
      // witness for a term; each refusal is counted on the witness. A master acts only in a term
      // the witness granted, so three refusals and no grant to it are its whole history.
      await waitUntil(() => witnessLog.events('WITNESS_REFUSED', { candidate: loserName }).length >= 3, `the witness refusing ${loserName} three times`, 20_000);
      assert.deepEqual([...new Set(witnessLog.events('WITNESS_GRANTED').map((l) => l['candidate']))], [winnerName], 'the witness granted terms to one master only');
      assert.equal(loser.failover!.status().role, 'standby');
      assert.equal(winner.failover!.isActive(), true, 'the one it granted is still active (its lease renewed)');
      assert.equal(both, false, 'never two active masters (checked every 5 ms as well)');
    } finally {
      clearInterval(watch);
      await close();
    }
  } finally {
    await witness.close();
  }
});

test('the local cluster with a standby master (pnpm start:standby): one master active, the other following, scanners on the active one', async () => {
  const tmp = tempDir('local-standby');
  const [m1, m2, s1, s2, virtual] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  // The elections' UDP ports: none from the ephemeral range, which any UDP client socket may be given before the elections bind.
  const [e1, e2, me1, me2] = await freeUdpPortsOutsideEphemeralRange(4);
  const cluster = await startLocalCluster({ varDir: tmp.path, masterPort: m1, standbyPort: m2, sinkPort: 0, scannerPorts: [s1!, s2!], virtualPort: virtual, electionPorts: [e1!, e2!], masterElectionPorts: [me1!, me2!], standby: true, logLevel: 'silent', engines: false });
  try {
    const [first, second] = cluster.masters;
    assert.ok(first && second);
    assert.equal(first.failover!.isActive(), true, 'the higher priority master is active');
    await waitUntil(() => second.failover!.status().replication?.connected && second.failover!.status().replication?.lagEvents === 0, 'the standby follows');
    await waitUntil(() => first.hub.onlineNodeIds().size === 2, 'both scanners on the active master');
    assert.match(cluster.adminPassword, /\S{8,}/);
    const api = await apiClient(first.url, 'admin', cluster.adminPassword);
    assert.equal((await api.get('/api/v1/cluster/masters')).status, 200);
  } finally {
    await cluster.close();
  }
});

test('kill -9 of the active master process under mail and admin changes: the standby takes over within its master-down interval; nothing acknowledged is lost or stored twice', async () => {
  const downstream = await startDownstream();
  const el = await electionPair();
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const dirA = tempDir('master-a-process').path;
  const configA = join(dirA, 'master.yaml');
  writeFileSync(configA, stringify({
    node: { name: 'master-a' }, dataDir: join(dirA, 'data'),
    http: { host: '127.0.0.1', port: portA },
    cluster: { joinSecret: JOIN_SECRET, heartbeatSeconds: 0.5, offlineAfterMissed: 3 },
    admin: { username: 'admin', password: ADMIN_PASSWORD },
    rules: { seedFile: writeRulesFile(dirA) },
    failover: { peers: [`ws://127.0.0.1:${portB}/cluster/replication`], election: el.a },
    log: { level: 'info' },
  }));
  let a = await spawnMoat(['master', '--config', configA], 'FAILOVER_ACTIVE');
  const b = await startTestMaster({ name: 'master-b', port: portB, failover: { peers: [`ws://127.0.0.1:${portA}/cluster/replication`], election: el.b } });
  // The scanner's join token, made in master-a's database as `moat master join-token` would (a runs in its own process).
  const joinToken = (await mintJoinTokenOffline(validateDocument(MasterConfigSchema, parse(readFileSync(configA, 'utf8')), configA), 's1', { ttlSeconds: 600, replace: false })).token;
  const scanner = await startClusterScanner('s1', [`ws://127.0.0.1:${portA}/cluster`, `ws://127.0.0.1:${portB}/cluster`], downstream.port, { joinToken });
  const mail = steadyMail(scanner.smtpPort, 'k');
  // Admin changes on master-a until it dies: every one it acknowledged must survive.
  const acked: string[] = [];
  let adminOn = true;
  const apiA = await apiClient(`http://127.0.0.1:${portA}`);
  const admin = (async () => {
    for (let i = 0; adminOn; i++) {
      const r = await apiA.post('/api/v1/users', { username: `op${i}`, password: 'operator-password-1', role: 'auditor' }).catch(() => undefined);
      if (r?.status === 201) acked.push(`op${i}`);
      if (!r) return;
    }
  })();
  try {
    // A steady state, not a time limit: 30 sequential messages (each waits for smtp-server's
    // 100 ms greeting) and 5 password-hashed users took over 10 s on a loaded CI machine once.
    await waitUntil(() => mail.check() && mail.sent() >= 30 && acked.length >= 5 && b.failover!.status().replication?.connected, 'mail and admin changes flowing, the standby following', 45_000);
    // A rule saved and acknowledged just before the failure: in force after it.
    const current = (await apiA.get('/api/v1/rules')).json;
    const { version: _v, ...doc } = current.document;
    const saved = await apiA.put('/api/v1/rules', { ...doc, lists: { ...doc.lists, senderBlock: [...doc.lists.senderBlock, '*@saved-before-failover.example'] } });
    assert.equal(saved.status, 200);
    const savedVersion: number = saved.json.version;
    await a.kill9();
    await waitUntil(() => b.failover!.isActive(), 'master-b took over', 15_000);
    adminOn = false;
    await admin;
    const atTakeover = mail.sent();
    await waitUntil(() => mail.check() && mail.sent() >= atTakeover + 20, 'mail kept flowing after the takeover: 20 more accepted', 45_000);
    const sent = await mail.stop();
    await waitUntil(() => count(scanner.db, 'SELECT count(*) n FROM outbox') === 0 && count(b.db, 'SELECT count(*) n FROM messages') === sent, `all ${sent} messages on master-b`, 15_000);
    assert.equal(count(b.db, 'SELECT count(*) n FROM (SELECT id FROM messages GROUP BY id, node_id HAVING count(*) > 1)'), 0, 'none twice');
    assert.equal(count(b.db, 'SELECT count(*) n FROM events'), count(b.db, 'SELECT count(DISTINCT node_id || seq) n FROM events'));
    const users = new Set((b.db.prepare("SELECT username FROM users WHERE username LIKE 'op%'").all() as { username: string }[]).map((u) => u.username));
    for (const u of acked) assert.ok(users.has(u), `${u} was acknowledged by master-a and is on master-b`);
    // The console works on master-b with the same login as on master-a.
    const apiB = await apiClient(`http://127.0.0.1:${portB}`);
    assert.equal((await apiB.get('/api/v1/users')).status, 200);
    const onB = (await apiB.get('/api/v1/rules')).json;
    assert.ok(onB.version >= savedVersion, `the acknowledged rules version ${savedVersion} survived (master-b has ${onB.version})`);
    assert.ok(onB.document.lists.senderBlock.includes('*@saved-before-failover.example'), 'the rule saved before the failure is in force on master-b');
    await waitUntil(() => scanner.rules.current().rules.lists.senderBlock.includes('*@saved-before-failover.example'), 'and on the scanner');
    assert.equal((await sendMail(scanner.smtpPort, { from: 'x@saved-before-failover.example', to: ['user@example.test'] }, message())).code, 550);
    // master-a restarted after its kill -9: a standby that catches up from its own log (undoing
    // the writes master-b never got, if any), not by a full copy.
    a = await spawnMoat(['master', '--config', configA], 'REPL_UP');
    assert.equal(a.ready.snapshot, false, 'no full copy');
    assert.ok(!a.logs.some((l) => l.event === 'FAILOVER_ACTIVE'), 'it stays standby');
    const undone = a.logs.find((l) => l.event === 'REPL_ROLLED_BACK');
    if (undone) assert.ok(Number(undone.undone) >= 1);
  } finally {
    adminOn = false;
    await Promise.allSettled([mail.stop(), admin]);
    await a.kill9().catch(() => undefined);
    await scanner.close();
    await b.close();
    await downstream.close();
  }
});

function writeRulesFile(dir: string): string {
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, stringify(BASE_RULES));
  return file;
}

const CHROMIUM = '/usr/bin/chromium';
const CONSOLE_BUILT = fileURLToPath(new URL('../../apps/console/dist/index.html', import.meta.url));
const noBrowser = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing` : !existsSync(CONSOLE_BUILT) ? 'the console is not built: pnpm build' : false;

test('the console dashboard shows the masters: the active one, its epoch, and each standby with its lag', { skip: noBrowser, timeout: 60_000 }, async () => {
  const active = await startTestMaster({ name: 'master-a', failover: { role: 'active' } });
  const standby = await startTestMaster({ name: 'master-b', failover: { role: 'standby', peers: [replUrl(active)] } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    await waitUntil(() => standby.failover!.status().replication?.connected, 'the standby follows');
    const page = await browser.newPage();
    await page.goto(active.url);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=masters] tr[data-master=master-b]');
    const lag = await page.textContent('[data-testid=masters] tr[data-master=master-b] [data-testid=standby-lag]');
    assert.match(lag ?? '', /^\d+ events, \d+\.\d s$/);
    assert.match(await page.textContent('[data-testid=masters] tr[data-master=master-a]') ?? '', /active/);
  } finally {
    await browser.close();
    await standby.close();
    await active.close();
  }
});

test('the active master cut off from the witness steps down before its lease runs out; the other one takes over, never both at once', async () => {
  const witnessDir = tempDir('witness-lease').path;
  const key = 'witness-key-0123456789';
  const witness = await startWitness({ host: '127.0.0.1', port: 0, key, leaseMs: 1000, stateFile: `${witnessDir}/witness.json`, log: createLogger('silent', { role: 'witness' }) });
  // master-a reaches the witness through a relay the test can cut.
  const witnessPort = Number(new URL(witness.url).port);
  const relayed = new Set<Socket>();
  let cut = false;
  const relay = createNetServer((client) => {
    if (cut) return client.destroy();
    const upstream = connect(witnessPort, '127.0.0.1');
    relayed.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => (client.destroy(), upstream.destroy());
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const el = await electionPair();
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const a = await startTestMaster({ name: 'master-a', port: portA, failover: { peers: [`ws://127.0.0.1:${portB}/cluster/replication`], election: el.a, witness: { url: relayUrl, key } } });
  await waitUntil(() => a.failover!.isActive(), 'master-a active with the witness lease');
  const b = await startTestMaster({ name: 'master-b', port: portB, failover: { peers: [`ws://127.0.0.1:${portA}/cluster/replication`], election: el.b, witness: { url: witness.url, key } } });
  let both = false;
  const watch = setInterval(() => (both ||= a.failover!.isActive() && b.failover!.isActive()), 5);
  try {
    await waitUntil(() => b.failover!.status().replication?.connected, 'master-b follows');
    cut = true;
    for (const s of relayed) s.destroy();
    await waitUntil(() => b.failover!.isActive(), 'master-b took over', 15_000);
    assert.equal(a.failover!.isActive(), false, 'master-a stepped down');
    assert.equal(witness.state().holder, 'master-b');
    assert.equal(both, false, 'never two active masters');
  } finally {
    clearInterval(watch);
    await a.close();
    await b.close();
    await new Promise<void>((r) => relay.close(() => r()));
    await witness.close();
  }
});

test('replication over wss with the active master\'s certificate pinned; a wrong pin never follows, a wrong join secret is refused', async () => {
  const { key, cert, fingerprint, wrongPin, cleanup } = selfSignedCert('moat-master');
  const active = await startTestMaster({ name: 'master-a', tls: { cert, key }, failover: { role: 'active' } });
  const peers = [`wss://127.0.0.1:${active.port}/cluster/replication`];
  const impostor = await startTestMaster({ name: 'master-x', failover: { role: 'standby', peers, fingerprint: wrongPin } });
  const good = await startTestMaster({ name: 'master-b', failover: { role: 'standby', peers, fingerprint } });
  try {
    await waitUntil(() => good.failover!.status().replication?.connected && good.failover!.status().replication?.lagEvents === 0, 'the pinned standby follows over wss');
    assert.equal(count(good.db, "SELECT count(*) n FROM users WHERE username = 'admin'"), 1, 'it has the active master\'s users');
    assert.equal(impostor.failover!.status().replication?.connected, false, 'a pin mismatch never follows');
    assert.equal(count(impostor.db, 'SELECT count(*) n FROM repl_changes'), 0, 'and got nothing');
    assert.deepEqual(active.failover!.status().standbys.map((s) => s.name), ['master-b']);
  } finally {
    await impostor.close();
    await good.close();
    await active.close();
    cleanup();
  }
  // A standby without the right join secret is refused by the active master.
  const plain = await startTestMaster({ name: 'master-a', failover: { role: 'active' } });
  const dir = tempDir('wrong-secret').path;
  const config = validateDocument(MasterConfigSchema, {
    dataDir: dir, node: { name: 'master-w' }, http: { host: '127.0.0.1', port: 0 }, cluster: { joinSecret: 'not-the-cluster-secret-000' },
    failover: { role: 'standby', peers: [replUrl(plain)] }, log: { level: 'silent' },
  }, 'test');
  const wrongLog = captureLog({ role: 'master' }, 'info');
  const wrong = await startMaster(config, { log: wrongLog.log });
  try {
    // Refused, retried, refused again (or, wrongly, let in): the standby's own record of the active master's answer.
    const refused = () => wrongLog.events('REPL_REFUSED', { code: 'MOAT_ERR_JOIN_REFUSED' }).length;
    await waitUntil(() => refused() >= 2 || wrongLog.events('REPL_UP').length > 0, 'the active master answering the wrong join secret twice');
    assert.equal(wrongLog.events('REPL_UP').length, 0, 'never followed');
    assert.equal(wrong.failover!.status().replication?.connected, false);
    assert.deepEqual(plain.failover!.status().standbys, []);
  } finally {
    await wrong.close();
    await plain.close();
  }
});
