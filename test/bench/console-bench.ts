/**
 * Console page-load benchmark: `node test/bench/console-bench.ts [--messages N] [--runs N]`.
 *
 * A real master with two real scanners on loopback, its central log filled with a month of
 * synthetic mail (the master data benchmark's generator, default 200,000 messages and 20,000
 * quarantined), plus a few real messages sent through a scanner. Headless Chromium loads each
 * console page from scratch (blank page → URL) and the time until the page shows its data is
 * taken; the baseline is the same API requests the page made, fetched directly in parallel
 * from this process in the same run. The bar: no page takes more than a second.
 * Prints a markdown table, also written to test/bench/results/console.md.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { openDatabase } from '@moat/storage';
import { MASTER_MIGRATIONS } from '../../apps/master/src/db/migrations.ts';
import { DAY_MS } from '../../apps/master/src/data/time-buckets.ts';
import { ADMIN_PASSWORD, apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { benchLog, intOption } from './lib/bench-options.ts';
import { bulkLoadMessages, bulkLoadQuarantine } from './master-data-generate.ts';
import { upperMedian } from './lib/stats.ts';

const CHROMIUM = '/usr/bin/chromium';
const RESULTS = fileURLToPath(new URL('./results/console.md', import.meta.url));
const { values } = parseArgs({ options: { messages: { type: 'string', default: '200000' }, quarantine: { type: 'string', default: '20000' }, runs: { type: 'string', default: '5' } } });
const opts = { messages: intOption('messages', values.messages, 0), quarantine: intOption('quarantine', values.quarantine, 0), runs: intOption('runs', values.runs, 1) };


const downstream = await startDownstream();
const master = await startTestMaster();
const scanners = [await startClusterScanner('scanner-1', master.wsUrl, downstream.port), await startClusterScanner('scanner-2', master.wsUrl, downstream.port)];
const api = await apiClient(master.url);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
try {
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.filter((n: { online: boolean }) => n.online).length === 2, 'both scanners online');
  const nodeIds: string[] = (await api.get('/api/v1/nodes')).json.items.map((n: { id: string }) => n.id);

  benchLog(`filling the master's log: ${opts.messages.toLocaleString('en-US')} messages, ${opts.quarantine.toLocaleString('en-US')} quarantined, over 30 days`);
  const db = openDatabase(`${master.dataDir}/master.sqlite`, MASTER_MIGRATIONS);
  const end = Date.now() - 60_000;
  const range = { start: end - 30 * DAY_MS, end, nodes: nodeIds };
  bulkLoadMessages(db, { ...range, count: opts.messages, seed: 7 });
  bulkLoadQuarantine(db, { ...range, count: opts.quarantine, seed: 11 });
  // The generator records its rows' sequence numbers as already seen; the real scanners' own
  // outbox numbers start at 1, so forget the synthetic ones or the real events would look like repeats.
  db.prepare(`DELETE FROM events WHERE node_id IN (${nodeIds.map(() => '?').join(',')})`).run(...nodeIds);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();

  // A few real messages, so the detail pages have content to fetch from a scanner.
  const held = await sendMail(scanners[0]!.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME bench', body: 'held for the bench' }));
  const heldId = /queued as (\w+)/.exec(held.response)![1]!;
  await waitUntil(async () => (await api.get(`/api/v1/quarantine/${heldId}`)).status === 200, 'the real held message is indexed');
  const logged = (await api.get(`/api/v1/messages?subject=${encodeURIComponent('QUARANTINE-ME bench')}`)).json.items[0];

  const pages: Array<[string, string, string]> = [
    ['Dashboard', 'dashboard', 'tr[data-node] .pill >> nth=0'],
    ['Quarantine list', 'quarantine', 'tr[data-id] >> nth=0'],
    ['Quarantine message (content from the scanner)', `quarantine/${heldId}`, '[data-testid=text-part]'],
    ['Message log', 'messages', '[data-testid=messages] tr[data-id] >> nth=0'],
    ['Message detail', `messages/${logged.nodeId}/${logged.id}`, '[data-testid=reasons]'],
    ['Rules', 'rules', '[data-testid=rules-form] tr[data-node] >> nth=0'],
    ['Reports (30 days)', 'reports', '.tops td.num >> nth=0'],
    ['Users', 'users', 'tr[data-user=admin]'],
    ['Audit log', 'audit', '[data-testid=audit] tbody tr >> nth=0'],
  ];
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page: Page = await context.newPage();
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  const cookie = (await context.cookies()).find((c) => c.name === 'moat_session')!;

  const rows: Array<{ title: string; pageMs: number; apiMs: number; calls: number }> = [];
  for (const [title, path, ready] of pages) {
    const loads: number[] = [];
    let apiUrls: string[] = [];
    for (let run = 0; run <= opts.runs; run++) {
      await page.goto('about:blank');
      const urls: string[] = [];
      const onRequest = (r: { url(): string }) => { if (r.url().includes('/api/v1/') && !r.url().endsWith('/auth/me')) urls.push(r.url()); };
      page.on('request', onRequest);
      const t0 = performance.now();
      await page.goto(`${master.url}/#/${path}`);
      if (path === 'reports') await page.selectOption('select[name=days]', '30');
      await page.locator(ready).waitFor({ timeout: 30_000 });
      const ms = performance.now() - t0;
      page.off('request', onRequest);
      if (run > 0) loads.push(ms); // the first load warms the caches, as any admin's second click would
      apiUrls = urls;
    }
    const direct: number[] = [];
    for (let run = 0; run <= opts.runs; run++) {
      const t0 = performance.now();
      await Promise.all(apiUrls.map(async (u) => (await fetch(u, { headers: { cookie: `moat_session=${cookie.value}` } })).arrayBuffer()));
      if (run > 0) direct.push(performance.now() - t0);
    }
    rows.push({ title, pageMs: upperMedian(loads), apiMs: upperMedian(direct), calls: apiUrls.length });
    benchLog(`${title}: ${Math.round(upperMedian(loads))} ms to data (API alone ${Math.round(upperMedian(direct))} ms, ${apiUrls.length} calls)`);
  }

  const table = [
    `# Console page loads`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, Chromium headless; master with two scanners on loopback; `
      + `${opts.messages.toLocaleString('en-US')} messages and ${opts.quarantine.toLocaleString('en-US')} quarantined over 30 days in the central log; median of ${opts.runs} loads after one warm-up.`,
    '',
    '"To data": a blank page, then the page\'s URL, until its data is on screen (JS bundle, sign-in check, API calls, render). '
      + '"API alone": the same API requests fetched in parallel from the bench process. Target: every page within 1,000 ms.',
    '',
    '| page | to data (ms) | API alone (ms) | API calls | page ÷ API | within 1 s |',
    '| --- | ---: | ---: | ---: | ---: | :---: |',
    ...rows.map((r) => `| ${r.title} | ${Math.round(r.pageMs)} | ${Math.round(r.apiMs)} | ${r.calls} | ${(r.pageMs / Math.max(r.apiMs, 1)).toFixed(1)}× | ${r.pageMs <= 1000 ? 'yes' : '**no**'} |`),
    '',
  ].join('\n');
  process.stdout.write(`${table}\n`);
  writeFileSync(RESULTS, table);
  benchLog(`written to ${RESULTS}`);
} finally {
  await browser.close();
  for (const s of scanners) await s.close();
  await master.close();
  await downstream.close();
}
