/**
 * Console benchmark: `pnpm bench:console [--messages N] [--runs N] [--help]`.
 *
 * Issue 20's bar: every console page shows its data within 300 ms of the API answering, with
 * 1M logged messages. A real master with two real scanners on loopback, started from a cached
 * dataset (lib/console-dataset.ts: built once under var/bench-cache, copied per run), headless
 * Chromium loading each page from scratch (blank page → URL), and an in-page probe
 * (lib/page-probe.ts) that times the last API answer and the frame that shows the data. Every
 * page is measured at a small baseline database and at the large one in the same run.
 * Prints a markdown table, also written to test/bench/results/console.md.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, startClusterScanner, startTestMaster, apiClient } from '../helpers/cluster-harness.ts';
import { CHROMIUM, CONSOLE_BUILT, launchChromium } from '../helpers/console-browser.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { waitUntil } from '../helpers/wait.ts';
import { benchLog, intOption } from './lib/bench-options.ts';
import { SCANNER_NAMES, datasetCopy, type Dataset } from './lib/console-dataset.ts';
import { callKey, consoleReport, overBudget, type PageRow, type PageSamples } from './lib/console-report.ts';
import { armProbe, installProbe, probeResult, type ProbeResult, type ReadySpec } from './lib/page-probe.ts';
import { senderAddress } from './master-data-generate.ts';
import { upperMedian } from './lib/stats.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'results', 'console.md');
const USAGE = `pnpm bench:console [options]
  --messages N           logged messages in the large database (default 1000000)
  --quarantine N         quarantine entries in it (default a tenth of --messages)
  --baseline-messages N  the baseline database, same run (default 1000; quarantine a tenth)
  --runs N               timed loads per page and size, after one warm-up (default 5)
  --pages LIST           only the pages whose titles start with these, comma-separated
  --cache DIR            where built databases are kept (default var/bench-cache)
  --max-cache-age H      rebuild a cached database older than H hours (default 24: the dashboard shows the last day)
  --rebuild              rebuild the cached databases
  --out FILE             the report (default test/bench/results/console.md)`;

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    quarantine: { type: 'string' },
    'baseline-messages': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    pages: { type: 'string' },
    cache: { type: 'string', default: join(HERE, '..', '..', 'var', 'bench-cache') },
    'max-cache-age': { type: 'string', default: '24' },
    rebuild: { type: 'boolean', default: false },
    out: { type: 'string', default: RESULTS },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const messages = intOption('messages', values.messages, 1);
const opts = {
  messages,
  quarantine: values.quarantine === undefined ? Math.ceil(messages / 10) : intOption('quarantine', values.quarantine, 1),
  baselineMessages: intOption('baseline-messages', values['baseline-messages'], 1),
  runs: intOption('runs', values.runs, 1),
  maxAgeHours: intOption('max-cache-age', values['max-cache-age'], 0),
};

interface PageCase {
  readonly title: string;
  /** The console route, after `#/`. */
  readonly path: (d: Dataset) => string;
  readonly ready: ReadySpec;
  /** Measured after the page has loaded: a control the admin changes (then the new requests are timed). */
  readonly then?: (page: Page) => Promise<void>;
}

const rows = (selector: string, min = 1): readonly [string, number] => [selector, min];
const REPORTS_READY: ReadySpec = { all: [rows('[data-testid=per-node] tbody tr[data-node]', 2), rows('.top-card table tr', 8), rows('canvas')] };
const PAGES: readonly PageCase[] = [
  { title: 'Dashboard', path: () => 'dashboard', ready: { all: [rows('[data-testid=nodes] tr[data-node] .pill', 2), rows('canvas')] } },
  { title: 'Quarantine list', path: () => 'quarantine', ready: { all: [rows('[data-testid=quarantine] tr[data-id]')] } },
  { title: 'Quarantine message (content from the scanner)', path: (d) => `quarantine/${d.meta.heldId}`, ready: { all: [rows('[data-testid=text-part]')] } },
  { title: 'Message log', path: () => 'messages', ready: { all: [rows('[data-testid=messages] tr[data-id]')] } },
  { title: 'Message log: sender search', path: () => `messages?sender=${encodeURIComponent(senderAddress(42))}`, ready: { all: [rows('[data-testid=messages] tbody tr')] } },
  { title: 'Message log: subject search', path: () => 'messages?subject=invoice', ready: { all: [rows('[data-testid=messages] tbody tr')] } },
  { title: 'Message detail', path: (d) => `messages/${d.meta.logged.nodeId}/${d.meta.logged.id}`, ready: { all: [rows('[data-testid=message-detail]'), rows('[data-testid=reasons]')] } },
  { title: 'Queue (from the scanner)', path: () => 'queue', ready: { all: [rows('[data-testid=queue-summary]')] } },
  { title: 'Rules', path: () => 'rules', ready: { all: [rows('[data-testid=current-version]'), rows('[data-testid=history] tbody tr'), rows('[data-testid=rules-form]')] } },
  { title: 'Test a message', path: () => 'test', ready: { all: [rows('[data-testid=message-test-form]')] } },
  { title: 'Domains', path: () => 'domains', ready: { all: [rows('[data-testid=domains] tbody tr')] } },
  { title: 'Reports (7 days)', path: () => 'reports', ready: REPORTS_READY },
  {
    title: 'Reports (30 days)',
    path: () => 'reports',
    ready: REPORTS_READY,
    then: (page) => page.selectOption('select[name=days]', '30').then(() => undefined),
  },
  { title: 'Users', path: () => 'users', ready: { all: [rows('tr[data-user=admin]')] } },
  { title: 'API tokens', path: () => 'tokens', ready: { all: [rows('[data-testid=tokens]')] } },
  { title: 'Audit log', path: () => 'audit', ready: { all: [rows('[data-testid=audit] tbody tr')] } },
  { title: 'Digests', path: () => 'digests', ready: { all: [rows('form.digests-form')] } },
];

const wanted = values.pages?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
const cases = wanted ? PAGES.filter((p) => wanted.some((w) => p.title.toLowerCase().startsWith(w))) : PAGES;
if (cases.length === 0) throw new Error(`--pages ${values.pages} names no page (pages: ${PAGES.map((p) => p.title).join('; ')})`);

/** The probe's measurement once the page shows its data; if it never does, an error naming what is missing. */
async function measured(page: Page, c: PageCase): Promise<ProbeResult> {
  try {
    return (await (await page.waitForFunction(probeResult, undefined, { timeout: 60_000, polling: 50 })).jsonValue()) as ProbeResult;
  } catch (err) {
    const counts = await Promise.all(c.ready.all.map(async ([selector, min]) => `${selector}: ${await page.locator(selector).count()} of ${min}`));
    throw new Error(`${c.title} (${page.url()}) did not show its data: ${counts.join('; ')} (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Every page at one dataset: the cluster started on a copy of it, each page loaded 1 + runs times. */
async function measureAll(browser: Browser, dataset: Dataset): Promise<Map<string, PageSamples>> {
  const downstream = await startDownstream();
  const master = await startTestMaster({ dataDir: dataset.masterDir });
  const scanners = [];
  try {
    for (const [i, name] of SCANNER_NAMES.entries()) scanners.push(await startClusterScanner(name, master.wsUrl, downstream.port, { dataDir: dataset.scannerDirs[i]!, joinToken: null }));
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.filter((n: { online: boolean }) => n.online).length === SCANNER_NAMES.length, 'both scanners online', 30_000);
    const signIn = await browser.newContext();
    const first = await signIn.newPage();
    await first.goto(master.url);
    await first.fill('input[name=username]', 'admin');
    await first.fill('input[name=password]', ADMIN_PASSWORD);
    await first.click('button[type=submit]');
    await first.waitForSelector('[data-testid=who]');
    const storageState = await signIn.storageState();
    const session = storageState.cookies.find((k) => k.name === 'moat_session');
    if (!session) throw new Error('signing in gave no moat_session cookie');
    const cookie = `moat_session=${session.value}`;
    await signIn.close();

    const out = new Map<string, PageSamples>();
    for (const c of cases) {
      const context = await browser.newContext({ storageState, viewport: { width: 1280, height: 800 } });
      await context.addInitScript(installProbe, c.ready);
      const page = await context.newPage();
      const samples = { calls: 0, api: [] as number[], render: [] as number[], total: [] as number[], byCall: {} as Record<string, number[]> };
      let lastUrls: string[] = [];
      for (let run = 0; run <= opts.runs; run++) {
        await page.goto('about:blank');
        await page.goto(`${master.url}/#/${c.path(dataset)}`);
        let r = await measured(page, c);
        if (c.then) {
          await page.evaluate(armProbe, c.ready);
          await c.then(page);
          r = await measured(page, c);
        }
        if (r.calls === 0) throw new Error(`${c.title}: the page made no API call`);
        lastUrls = [...r.urls];
        if (run === 0) continue; // the first load warms the caches, as any admin's second click would
        samples.calls = r.calls;
        samples.api.push(r.lastAnswerAt - r.firstRequestAt);
        samples.render.push(r.shownAt - r.lastAnswerAt);
        samples.total.push(r.shownAt - r.armedAt);
      }
      await context.close();
      // Each of the page's requests alone, one after another: what each costs without the others queued in front of it.
      for (const url of new Set(lastUrls)) {
        for (let run = 0; run <= opts.runs; run++) {
          const t0 = performance.now();
          const res = await fetch(url, { headers: { cookie, 'x-moat-request': '1' } });
          await res.arrayBuffer();
          if (res.status === 401 || res.status >= 500) throw new Error(`${c.title}: ${url} answered ${res.status} to the bench`);
          if (run > 0) (samples.byCall[callKey(url)] ??= []).push(performance.now() - t0);
        }
      }
      out.set(c.title, samples);
      const med = (xs: number[]) => Math.round(upperMedian(xs));
      benchLog(`  ${c.title}: ${med(samples.render)} ms after the API (API ${med(samples.api)} ms, ${samples.calls} calls; total ${med(samples.total)} ms)`);
    }
    return out;
  } finally {
    for (const s of scanners) await s.close();
    await master.close();
    await downstream.close();
  }
}

if (!existsSync(CONSOLE_BUILT)) throw new Error(`${CONSOLE_BUILT} is missing: build the console first (pnpm build)`);
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
const cache = { cacheRoot: values.cache!, maxAgeHours: opts.maxAgeHours, rebuild: values.rebuild! };
const baseline = await datasetCopy({ ...cache, messages: opts.baselineMessages, quarantine: Math.ceil(opts.baselineMessages / 10) });
const large = await datasetCopy({ ...cache, messages: opts.messages, quarantine: opts.quarantine });
const browser = await launchChromium();
const loadAtStart = loadavg()[0]!;
try {
  benchLog(`baseline: ${opts.baselineMessages.toLocaleString('en-US')} messages`);
  const small = await measureAll(browser, baseline);
  benchLog(`large: ${opts.messages.toLocaleString('en-US')} messages`);
  const big = await measureAll(browser, large);
  const pageRows: PageRow[] = cases.map((c) => ({ title: c.title, baseline: small.get(c.title)!, large: big.get(c.title)! }));
  const report = consoleReport({
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load average ${loadAtStart.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end, Node ${process.version}, ${CHROMIUM}`,
    runs: opts.runs,
    baselineMessages: opts.baselineMessages,
    baselineQuarantine: Math.ceil(opts.baselineMessages / 10),
    largeMessages: opts.messages,
    largeQuarantine: opts.quarantine,
    largeDbMiB: Math.round(large.dbBytes / 2 ** 20),
    command: `pnpm bench:console ${process.argv.slice(2).join(' ')}`.trim(),
  }, pageRows);
  process.stdout.write(`${report}\n`);
  writeFileSync(values.out!, report);
  benchLog(`written to ${values.out}`);
  const misses = overBudget(pageRows);
  if (misses.length > 0) benchLog(`over the 300 ms bar at ${opts.messages.toLocaleString('en-US')} messages: ${misses.join(', ')}`);
} finally {
  await browser.close();
  baseline.cleanup();
  large.cleanup();
}
