import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, ADMIN_PASSWORD, startClusterScanner, startTestMaster, type ApiClient } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { startSpamd, SPAMD_SKIP, type Spamd } from '../helpers/spamd.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { unreadableText } from '../helpers/readable-text.ts';
import { waitUntil } from '../helpers/wait.ts';
import { consoleSkip, launchChromium, SHOTS } from '../helpers/console-browser.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface Engine { engine: string; state: string; samples: number; p50Ms?: number; p95Ms?: number; errors: number; lastError?: { message: string; at: string } }

async function engine(api: ApiClient, node: string, name: string): Promise<Engine | undefined> {
  const n = (await api.get('/api/v1/nodes')).json.items.find((x: { name: string }) => x.name === node);
  return n?.engines?.items.find((e: Engine) => e.engine === name);
}

function moat(args: string[], token: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), ...args], { env: { ...process.env, MOAT_TOKEN: token }, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The dashboard's Engines panel, reloaded until `state` shows for the engine (the page itself refreshes every 10 s). */
async function panelShows(page: Page, url: string, node: string, name: string, state: string): Promise<string> {
  const row = `[data-testid=engines] tr[data-node="${node}"][data-engine="${name}"]`;
  await waitUntil(async () => {
    await page.goto(`${url}/#/`);
    await page.waitForSelector('[data-testid=nodes] tr[data-node]');
    return (await page.locator(`${row} [data-testid=engine-state]`).textContent().catch(() => null))?.trim() === state;
  }, `the Engines panel shows ${name} ${state} on ${node}`, 20_000, 200);
  return (await page.textContent(row)) ?? '';
}

/**
 * Engine health (issue 20): a scanner with a real spamd reports it up, with its scan latency;
 * spamd stopped, the API, moat status and the dashboard's Engines panel show it down with its
 * error; started again, up again. A master that speaks protocol 4 gets no `engines`.
 */
test('engine health: a real spamd up, stopped (down, with its error), started again (up)', { skip: SPAMD_SKIP, timeout: 180_000 }, async (t) => {
  const spamdDir = tempDir('spamd-health');
  let spamd: Spamd = await startSpamd({ dir: spamdDir.path });
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const analyzers = { probeSeconds: 0.2, spamassassin: { socket: spamd.socket, timeoutSeconds: 5 } };
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port, { analyzers });
  t.after(async () => {
    await scanner.close();
    await master.close();
    await downstream.close();
    await spamd.stop();
    spamdDir.cleanup();
  });
  const api = await apiClient(master.url);
  const token = (await api.post('/api/v1/tokens', { name: 'status' })).json.token as string;
  const on = ['--master', master.url];

  await t.test('up by its probe, then with a scan time once a message was scanned; moat status shows it', async () => {
    await waitUntil(async () => (await engine(api, 'scanner-1', 'spamassassin'))?.state === 'up', 'spamassassin up by its probe');
    assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'scanned' }))).code, 250);
    await waitUntil(async () => ((await engine(api, 'scanner-1', 'spamassassin'))?.samples ?? 0) >= 1, 'the scan counted');
    const e = (await engine(api, 'scanner-1', 'spamassassin'))!;
    assert.equal(e.state, 'up');
    assert.ok(e.p50Ms! > 0 && e.p95Ms! >= e.p50Ms!, JSON.stringify(e));
    assert.equal(e.errors, 0);
    const status = await moat(['status', ...on], token);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /ENGINES\n/);
    assert.match(status.stdout, /scanner-1 .* spamassassin up \d+ms\n/);
    const json = JSON.parse((await moat(['status', ...on, '--json'], token)).stdout);
    assert.equal(json.nodes[0].engines[0].engine, 'spamassassin');
    // The same as Prometheus metrics on the master (scanners dial out: the master serves them, per node).
    const metrics = (await api.get('/metrics')).text;
    assert.match(metrics, /^moat_engine_up\{node="scanner-1",engine="spamassassin"\} 1$/m);
    assert.match(metrics, /^moat_engine_scan_p50_seconds\{node="scanner-1",engine="spamassassin"\} [\d.e-]+$/m);
    assert.match(metrics, /^moat_engine_scan_errors\{node="scanner-1",engine="spamassassin"\} 0$/m);
  });

  await t.test('spamd stopped: down with the error and when, in the API and moat status', async () => {
    await spamd.stop();
    await waitUntil(async () => (await engine(api, 'scanner-1', 'spamassassin'))?.state === 'down', 'spamassassin down');
    assert.equal((await engine(api, 'scanner-1', 'spamassassin'))!.errors, 0, 'failed probes are no failed scans');
    // A message while it is down goes without it (onUnavailable: pass): a failed scan.
    assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'unscanned' }))).code, 250);
    await waitUntil(async () => ((await engine(api, 'scanner-1', 'spamassassin'))?.errors ?? 0) >= 1, 'the failed scan counted');
    const e = (await engine(api, 'scanner-1', 'spamassassin'))!;
    assert.match(e.lastError!.message, /ENOENT|ECONNREFUSED|spamd/);
    assert.ok(Date.parse(e.lastError!.at) > 0);
    assert.ok(e.errors >= 1);
    const status = await moat(['status', ...on], token);
    assert.match(status.stdout, /scanner-1 .* spamassassin DOWN\n/);
    assert.match(status.stdout, /\nengines down:\n {2}scanner-1 spamassassin: .+ \(\d+s ago\)\n/);
    const metrics = (await api.get('/metrics')).text;
    assert.match(metrics, /^moat_engine_up\{node="scanner-1",engine="spamassassin"\} 0$/m);
    assert.match(metrics, /^moat_engine_scan_errors\{node="scanner-1",engine="spamassassin"\} [1-9]\d*$/m);
  });

  await t.test('spamd started again: up again, the last error kept', async () => {
    spamd = await startSpamd({ dir: spamdDir.path });
    assert.equal(spamd.socket, analyzers.spamassassin.socket, 'the same socket');
    await waitUntil(async () => (await engine(api, 'scanner-1', 'spamassassin'))?.state === 'up', 'spamassassin up again', 20_000);
    assert.ok((await engine(api, 'scanner-1', 'spamassassin'))!.lastError);
  });

  await t.test('the dashboard\'s Engines panel in Chromium: up, down with the error, readable', { skip: consoleSkip }, async () => {
    const browser: Browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(master.url);
      await page.fill('input[name=username]', 'admin');
      await page.fill('input[name=password]', ADMIN_PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=who]');
      const up = await panelShows(page, master.url, 'scanner-1', 'spamassassin', 'up');
      assert.match(up, /scanner-1spamassassinup[\d.]+ ms \/ [\d.]+ ms/);
      await spamd.stop();
      const down = await panelShows(page, master.url, 'scanner-1', 'spamassassin', 'down');
      assert.match(down, /spamassassindown.*(ENOENT|ECONNREFUSED|spamd).*ago\)/);
      assert.deepEqual(await unreadableText(page), [], 'every text of the dashboard is readable');
      const box = await page.locator('[data-testid=engines]').boundingBox();
      assert.ok(box && box.height > 40 && box.width > 300, `the Engines panel is drawn: ${JSON.stringify(box)}`);
      await page.locator('[data-testid=engines]').screenshot({ path: `${SHOTS}dashboard-engines.png` });
      spamd = await startSpamd({ dir: spamdDir.path });
      await panelShows(page, master.url, 'scanner-1', 'spamassassin', 'up');
    } finally {
      await browser.close();
    }
  });

  await t.test('a master that speaks protocol 4 gets heartbeats without engines (the field is version-gated)', async () => {
    // The scanner offers 5 (a master may be one version behind its scanners): the link speaks 4.
    const old = await startTestMaster({ protocolVersion: 4 });
    const oldScanner = await startClusterScanner('scanner-old', old.wsUrl, downstream.port, { analyzers, protocolVersion: 5 });
    try {
      const oldApi = await apiClient(old.url);
      const seen: string[] = [];
      await waitUntil(async () => {
        const n = (await oldApi.get('/api/v1/nodes')).json.items[0];
        if (n?.online && n.lastSeen && !seen.includes(n.lastSeen)) seen.push(n.lastSeen);
        return seen.length >= 3;
      }, 'three heartbeats on the version-4 master', 10_000, 100);
      const n = (await oldApi.get('/api/v1/nodes')).json.items[0];
      assert.equal(n.online, true, 'the link stays up');
      assert.equal(n.engines, undefined);
    } finally {
      await oldScanner.close();
      await old.close();
    }
  });
});
