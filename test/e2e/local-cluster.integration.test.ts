import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCluster, type LocalCluster } from '@moat/cli';
import { sendMail, message, type SendResult } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { orTimeout, sleep, waitUntil } from '../helpers/wait.ts';
import { freePort, freeUdpPortsOutsideEphemeralRange } from '../helpers/ports.ts';
import { apiClient, type ApiClient } from '../helpers/cluster-harness.ts';
import { demoRules } from '@moat/rules';
import { EICAR, findBinary } from '@moat/engines';
import { parse } from 'yaml';

async function startOnFreePorts(varDir: string, extra: { restartDelayMs?: number; engines?: boolean } = {}) {
  // The elections' UDP ports are bound only once the engines run: none from the ephemeral range (an engine's DNS socket could take it).
  const [s1, s2, virtual] = [await freePort(), await freePort(), await freePort()];
  const [e1, e2] = await freeUdpPortsOutsideEphemeralRange(2);
  const cluster = await startLocalCluster({ varDir, masterPort: 0, sinkPort: 0, scannerPorts: [s1, s2], virtualPort: virtual, electionPorts: [e1!, e2!], logLevel: 'silent', say: () => undefined, ...extra });
  return { cluster, virtual: virtual! };
}

type NodeRow = { name: string; online: boolean; balancer?: { holder: boolean } };
const nodes = async (api: ApiClient) => ((await api.get('/api/v1/nodes')).json as { items: NodeRow[] }).items;

/** The scanner holding the virtual address, by the master's view of the heartbeats. */
async function holderOf(cluster: LocalCluster, api: ApiClient) {
  let holders: NodeRow[] = [];
  await waitUntil(async () => {
    holders = (await nodes(api)).filter((n) => n.online && n.balancer?.holder);
    return holders.length === 1;
  }, 'exactly one holder of the virtual address', 30_000, 200);
  return cluster.scanners.find((s) => s.name === holders[0]!.name)!;
}


test('the local cluster: demo rules give every verdict, delivered mail lands in var/delivered', async () => {
  const tmp = tempDir('local');
  // var/ is 0700, as mkdtemp makes it and as moat local makes var/ (run as root, spamd still starts: moat local makes var/ enterable).
  const { cluster, virtual } = await startOnFreePorts(tmp.path);
  try {
    const port = cluster.scanners[0]!.smtpPort;
    const env = { from: 'a@origin.test', to: ['user@example.test'] };
    assert.equal((await sendMail(port, env, message({ subject: 'plain' }))).ok, true);
    assert.equal((await sendMail(port, env, message({ subject: 'TAG-ME' }))).ok, true);
    assert.equal((await sendMail(port, env, message({ subject: 'QUARANTINE-ME' }))).ok, true);
    const blocked = await sendMail(port, { from: 'x@blocked.example', to: ['user@example.test'] }, message());
    assert.equal(blocked.code, 550);
    // Recipient verification by call-out to the sink (it knows postmaster, user, alice, bob, carol): refused at RCPT.
    const unknown = await sendMail(port, { from: 'a@origin.test', to: ['nobody@example.test'] }, message());
    assert.equal(unknown.code, 550, unknown.response);
    assert.match(unknown.response, /5\.1\.1 <nobody@example\.test>: Recipient address rejected: User unknown/);

    // The virtual address: one scanner holds it (the election), mail through it lands too.
    await holderOf(cluster, await apiClient(cluster.master.url, 'admin', cluster.adminPassword));
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

    // Every engine installed here is on, and both scanners' configs point at it (CI: all of them).
    const required = (binary: string) => process.env['MOAT_REQUIRE_ENGINES'] === '1' || findBinary(binary) !== undefined;
    const state = (name: string) => cluster.engines.find((e) => e.name === name)!;
    const configs = cluster.scanners.map((s) => parse(readFileSync(join(s.dataDir, 'scanner.yaml'), 'utf8')) as { analyzers?: Record<string, { url?: string; host?: string; port?: number }> });
    const plain = emls.find((m) => /Subject: plain/.test(m))!;
    for (const [engine, binary, key, header] of [['rspamd', 'rspamd', 'rspamd', /^X-Moat-Spam-Scan: rspamd score=/m], ['spamd', 'spamd', 'spamassassin', /^X-Moat-Spam-Scan: spamassassin score=/m], ['clamd', 'clamd', 'clamav', /^X-Moat-Virus-Scan: clean/m]] as const) {
      const e = state(engine);
      if (!required(binary)) {
        assert.equal(e.state, 'missing', `${engine} is not installed here`);
        for (const c of configs) assert.equal(c.analyzers?.[key], undefined);
        continue;
      }
      assert.equal(e.state, 'on', `${engine}: ${JSON.stringify(e)}`);
      const address = e.state === 'on' ? e.address : '';
      for (const c of configs) {
        const a = c.analyzers?.[key];
        assert.equal(a?.url ? new URL(a.url).host : `${a?.host}:${a?.port}`, address, `${key} in the scanner config points at the running ${engine}`);
      }
      assert.match(plain, header, `the delivered message was scanned by ${engine}`);
    }
    if (required('rspamd')) {
      assert.equal(state('redis').state, required('redis-server') ? 'on' : 'missing');
      // Learn events teach Rspamd through its controller: Bayes, and the fuzzy storage when redis runs.
      const controller = cluster.engines.find((e) => e.name === 'rspamd' && e.state === 'on' && e.note.includes('controller'));
      for (const c of configs) {
        const rspamd = c.analyzers?.rspamd as { controllerUrl?: string; fuzzy?: boolean };
        assert.ok(rspamd.controllerUrl && controller?.state === 'on' && controller.note.includes(rspamd.controllerUrl), 'analyzers.rspamd.controllerUrl is the running controller');
        assert.equal(rspamd.fuzzy, state('redis').state === 'on');
      }
    }
    if (state('clamd').state === 'on') {
      // A virus through the cluster: clamd finds it, the scanner holds it in quarantine.
      const virus = await sendMail(cluster.scanners[1]!.smtpPort, env, message({ subject: 'a virus', body: EICAR }));
      assert.equal(virus.ok, true, virus.response);
      assert.equal(readdirSync(join(tmp.path, 'scanner-2', 'quarantine')).length, 1, 'the EICAR message is in scanner-2\'s quarantine');
    }
    assert.ok(cluster.adminPassword.length >= 16, 'an admin password was generated');
    const login = await fetch(`${cluster.master.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: cluster.adminPassword }) });
    assert.equal(login.status, 200);
  } finally {
    await cluster.close();
    tmp.cleanup();
  }
});

/** What a sending MTA does: a refused or dropped connection is tried again; an SMTP reply is final. */
async function sendLikeAnMta(port: number, subject: string, deadlineMs = 30_000): Promise<SendResult> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const r = await sendMail(port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject }));
    if (r.ok || r.code !== undefined || Date.now() > deadline) return r;
    await sleep(100);
  }
}

test('the local cluster: kill -9 either scanner, mail through the virtual address still gets 250, the killed scanner is started again and rejoins', async () => {
  const tmp = tempDir('local-kill');
  const { cluster, virtual } = await startOnFreePorts(tmp.path, { restartDelayMs: 500, engines: false });
  try {
    const api = await apiClient(cluster.master.url, 'admin', cluster.adminPassword);
    const holder = await holderOf(cluster, api);

    // The scanner that does not hold the address: the holder's balancer tries the other scanner
    // when a connect is refused, so not one client sees an error, without any retry.
    const other = cluster.scanners.find((s) => s !== holder)!;
    const otherStarts = other.starts();
    process.kill(other.pid()!, 'SIGKILL');
    for (let i = 0; i < 10; i++) {
      const r = await sendMail(virtual, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `other down ${i}` }));
      assert.equal(r.ok, true, `message ${i} with the other scanner dead: ${r.response}`);
    }
    assert.notEqual(await orTimeout(other.started(otherStarts), 30_000), 'timed-out', 'the other scanner is started again');

    // The holder: the other scanner takes the address after the master-down interval.
    const before = await sendLikeAnMta(virtual, 'before the kill');
    assert.equal(before.ok, true, before.response);
    const [oldPid, starts] = [holder.pid()!, holder.starts()];
    assert.equal(existsSync(join(holder.dataDir, 'scanner.pid')), true);
    assert.equal(readFileSync(join(holder.dataDir, 'scanner.pid'), 'utf8').trim(), String(oldPid));
    process.kill(oldPid, 'SIGKILL');

    // The other scanner takes the address; a client that retries its connection, as MTAs do, is served.
    const after = await sendLikeAnMta(virtual, 'after the kill');
    assert.equal(after.ok, true, after.response);
    const delivered = join(tmp.path, 'delivered');
    await waitUntil(() => existsSync(delivered) && readdirSync(delivered).filter((f) => f.endsWith('.eml')).some((f) => /Subject: after the kill/.test(readFileSync(join(delivered, f), 'utf8'))), 'the message sent after the kill, delivered');

    // The supervisor starts the killed scanner again; the master sees both scanners online.
    assert.notEqual(await orTimeout(holder.started(starts), 30_000), 'timed-out', 'the killed scanner is started again');
    assert.notEqual(holder.pid(), oldPid);
    await waitUntil(async () => (await nodes(api)).filter((n) => n.online).length === 2, 'both scanners online again', 30_000, 200);
    const again = await sendLikeAnMta(virtual, 'after the restart');
    assert.equal(again.ok, true, again.response);
  } finally {
    await cluster.close();
    tmp.cleanup();
  }
});

test('a scanner started by the local cluster stops when the cluster process is killed (no orphan keeps the ports)', async () => {
  const tmp = tempDir('local-orphan');
  try {
    // A stand-in for 'moat local': a process that starts one scanner the same way, then is killed -9.
    const port = await freePort();
    const config = join(tmp.path, 'scanner.yaml');
    writeFileSync(join(tmp.path, 'rules.json'), JSON.stringify(demoRules()));
    writeFileSync(config, [
      'node: { name: orphan-test }',
      `dataDir: ${JSON.stringify(join(tmp.path, 'data'))}`,
      `smtp: { listen: { host: 127.0.0.1, port: ${port} } }`,
      'relay: { host: 127.0.0.1, port: 9 }',
      `rules: { file: ${JSON.stringify(join(tmp.path, 'rules.json'))} }`,
      'log: { level: silent }',
      '',
    ].join('\n'));
    const moat = new URL('../../apps/cli/src/moat.ts', import.meta.url).pathname;
    const parentScript = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, [${JSON.stringify(moat)}, 'scanner', '--config', ${JSON.stringify(config)}], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      child.on('message', (m) => { if (m && m.moat === 'ready') process.stdout.write(child.pid + '\\n'); });
      setInterval(() => {}, 1000);`;
    const pidFile = join(tmp.path, 'scanner.pid');
    const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MOAT_PID_FILE: pidFile } });
    let out = '';
    let scannerPid: number | undefined;
    parent.stdout.on('data', (d: Buffer) => (out += d));
    // Gone, or a zombie waiting for whoever adopted it to reap it: either way it has stopped.
    const alive = (pid: number) => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
    try {
      await waitUntil(() => /^\d+\n/.test(out), 'the scanner to start', 30_000);
      scannerPid = Number(out.trim());
      assert.equal(alive(scannerPid), true);
      assert.equal(readFileSync(pidFile, 'utf8'), `${scannerPid}\n`, 'MOAT_PID_FILE holds the scanner\'s id while it runs');
      parent.kill('SIGKILL');
      await waitUntil(() => !alive(scannerPid!), 'the scanner to stop after its parent was killed', 30_000, 50);
      assert.equal(existsSync(pidFile), false, 'the scanner removed its pid file as it stopped');
    } finally {
      parent.kill('SIGKILL');
      if (scannerPid !== undefined && alive(scannerPid)) process.kill(scannerPid, 'SIGKILL');
    }
  } finally {
    tmp.cleanup();
  }
});
