import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { startDownstream } from '../helpers/downstream.ts';
import { ADMIN_PASSWORD, apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { freePortOutsideEphemeralRange } from '../helpers/ports.ts';
import { consoleSkip as skip, launchChromium, shot, SHOTS } from '../helpers/console-browser.ts';

/**
 * The admin console in a real headless Chromium (Debian's `chromium` package, driven by
 * playwright-core) against a real master and a real scanner, all on loopback. Saves a
 * screenshot of each page into docs/console/, each after the checks of `shot`: readable text,
 * no blank data region, no text over text.
 */

const queueId = (response: string) => /queued as (\w+)/.exec(response)![1]!;

/** A message with a hostile HTML part: every way it tries to run code or load something is a probe. */
function hostileMessage(probeUrl: string): string {
  const html = [
    '<p>Dear customer</p>',
    "<script>window.pwned = 'script'; fetch('/api/v1/pwned-by-script')</script>",
    `<img src="x" onerror="window.pwned = 'onerror'; fetch('/api/v1/pwned-by-onerror')">`,
    `<img src="${probeUrl}/remote.png">`,
    `<svg onload="window.pwned = 'svg'"></svg>`,
    `<a href="javascript:window.pwned='link'">click</a>`,
    `<iframe src="${probeUrl}/frame"></iframe>`,
    `<link rel="stylesheet" href="${probeUrl}/style.css">`,
  ].join('\n');
  return [
    'From: phisher@origin.test',
    'To: user@example.test',
    'Subject: QUARANTINE-ME hostile html',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Plain text of the hostile message.',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '--b1--',
    '',
  ].join('\r\n');
}

async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

/** How many pixels of each colour a chart's canvas holds (uPlot draws on a canvas, so this is what a person sees). */
function chartColours(page: Page, colours = ['#2e90fa', '#f79009', '#7a5af8', '#d92d20'], canvasSelector = 'figure.chart canvas'): Promise<Record<string, number>> {
  return page.evaluate(([colours, selector]) => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { width: number; height: number; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } } | null } }).document;
    const canvas = doc.querySelector(selector)!;
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const out: Record<string, number> = Object.fromEntries(colours.map((c) => [c, 0]));
    const rgb = colours.map((c) => [c, Number.parseInt(c.slice(1, 3), 16), Number.parseInt(c.slice(3, 5), 16), Number.parseInt(c.slice(5, 7), 16)] as const);
    for (let i = 0; i < px.length; i += 4) {
      for (const [c, r, g, b] of rgb) if (px[i + 3] === 255 && Math.abs(px[i]! - r) < 3 && Math.abs(px[i + 1]! - g) < 3 && Math.abs(px[i + 2]! - b) < 3) out[c]!++;
    }
    return out;
  }, [colours, canvasSelector] as const);
}

test('the admin console, end to end in headless Chromium', { skip, timeout: 120_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  // Anything the hostile HTML manages to load from elsewhere lands here.
  const probeHits: string[] = [];
  const probe = createServer((req, res) => (probeHits.push(req.url ?? ''), res.end()));
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const probeUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  const downstream = await startDownstream();
  const master = await startTestMaster();
  // Fixed SMTP ports: a scanner on port 0 reports '127.0.0.1:0' (its hello goes before its
  // listener is bound), and the dashboard screenshot should show what an operator's would.
  const smtpPorts = { 'scanner-1': await freePortOutsideEphemeralRange(), 'scanner-2': await freePortOutsideEphemeralRange() };
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port, { port: smtpPorts['scanner-1'] });
  const scanner2 = await startClusterScanner('scanner-2', master.wsUrl, downstream.port, { port: smtpPorts['scanner-2'] });
  const browser: Browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await scanner2.close();
    await scanner.close();
    await master.close();
    await downstream.close();
    probe.close();
  });
  const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const requests: string[] = [];
  const cspViolations: string[] = [];
  admin.on('request', (r) => requests.push(r.url()));
  admin.on('console', (m) => {
    if (/Content Security Policy|Blocked script execution/i.test(m.text())) cspViolations.push(`${m.text()} @ ${m.location().url}:${m.location().lineNumber}`);
  });

  await t.test('sign in: the page loads without a session; the console shows who is signed in', async () => {
    const res = await admin.goto(master.url);
    assert.equal(res?.status(), 200);
    assert.match(res!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await admin.waitForSelector('form.sign-in');
    await shot(admin, 'sign-in');
    await admin.fill('input[name=username]', 'admin');
    await admin.fill('input[name=password]', 'wrong password');
    await admin.click('button[type=submit]');
    await admin.waitForSelector('.sign-in .error');
    assert.match(await admin.textContent('.sign-in .error') ?? '', /wrong user name or password/);
    await signIn(admin, master.url, 'admin', ADMIN_PASSWORD);
    assert.match(await admin.textContent('[data-testid=who]') ?? '', /admin\s*admin/);
  });

  await t.test('dashboard: both nodes are online with the current rules version', async () => {
    await admin.goto(`${master.url}/#/dashboard`);
    for (const name of ['scanner-1', 'scanner-2'] as const) {
      const row = admin.locator(`[data-testid=nodes] tr[data-node="${name}"]`);
      await row.locator('.pill.ok').waitFor();
      assert.equal((await row.locator('[data-testid=rules-version]').textContent())?.trim(), 'v1');
      assert.match(await row.textContent() ?? '', new RegExp(`127\\.0\\.0\\.1:${smtpPorts[name]}(?!\\d)`), 'the SMTP listener the node reported');
    }
    await admin.locator('figure.chart canvas').waitFor();
    await shot(admin, 'dashboard');
  });

  await t.test('rules form: a bad entry is shown next to its field and nothing is saved; lists, thresholds and a node drain are saved as one version', async () => {
    await admin.goto(`${master.url}/#/rules`);
    await admin.locator('[data-testid=current-version]', { hasText: 'version 1' }).waitFor();
    const ipBlock = admin.locator('textarea[name="lists.ipBlock"]');
    await ipBlock.fill('192.0.2.1\n999.1.1.1');
    await admin.fill('input[name="limits.maxRecipients"]', '-5');
    await admin.click('.rules-editor button[type=submit]');
    // The schema's problems come first (the address checks need a well-formed document)…
    await admin.locator('[data-field-error="limits.maxRecipients"]', { hasText: 'must be >= 1' }).waitFor();
    assert.equal(await admin.getAttribute('input[name="limits.maxRecipients"]', 'aria-invalid'), 'true');
    assert.match(await admin.textContent('[data-testid=notice]') ?? '', /Nothing was saved/);
    // …then, once that is fixed, the bad list entry, named by its line.
    await admin.fill('input[name="limits.maxRecipients"]', '50');
    await admin.click('.rules-editor button[type=submit]');
    await admin.locator('[data-field-error="lists.ipBlock"]').waitFor();
    assert.match(await admin.textContent('[data-field-error="lists.ipBlock"]') ?? '', /entry 2 \("999\.1\.1\.1"\): .*not an IPv4 or IPv6 address/);
    assert.equal(await ipBlock.getAttribute('aria-invalid'), 'true');
    assert.match(await ipBlock.getAttribute('aria-describedby') ?? '', /rules-lists-ipBlock-error/);
    assert.equal(await admin.locator('[data-field-error="limits.maxRecipients"]').count(), 0);
    assert.equal((await (await apiClient(master.url)).get('/api/v1/rules')).json.version, 1, 'nothing stored');
    await shot(admin, 'rules-form-invalid');

    await ipBlock.fill('192.0.2.1');
    await admin.fill('input[name="scoring.quarantine"]', '8');
    await admin.locator('tr[data-node="scanner-2"] input[name="nodes.scanner-2.maintenance"]').check();
    await admin.click('button:has-text("Add a content rule")');
    await admin.fill('input[name="content.2.id"]', 'invoice-scam');
    await admin.fill('input[name="content.2.contains"]', 'wire the money');
    await admin.fill('input[name="comment"]', 'form edit');
    await admin.click('.rules-editor button[type=submit]');
    await admin.locator('[data-testid=notice]', { hasText: 'Saved as version 2' }).waitFor();
    assert.equal(await admin.locator('[data-field-error]').count(), 0);
    await waitUntil(() => scanner2.rules.current().version === 2, 'scanner-2 applies version 2');
    const applied = scanner2.rules.current().rules;
    assert.deepEqual(applied.lists.ipBlock, ['192.0.2.1']);
    assert.equal(applied.limits.maxRecipients, 50);
    assert.equal(applied.scoring.quarantine, 8);
    assert.equal(applied.nodes['scanner-2']?.maintenance, true);
    assert.equal(applied.content.find((r) => r.id === 'invoice-scam')?.contains, 'wire the money');
    assert.ok(applied.content.length >= 3, 'the demo rules are kept');
    await admin.locator('[data-testid=rules-form]').scrollIntoViewIfNeeded();
    await shot(admin, 'rules-form');
  });

  await t.test('rules text: an invalid document shows the field and its line; a valid change becomes the next version on the node', async () => {
    await admin.goto(`${master.url}/#/rules`);
    await admin.locator('[data-testid=current-version]', { hasText: 'version 2' }).waitFor();
    await admin.selectOption('select[name=mode]', 'json');
    await waitUntil(async () => (await admin.inputValue('textarea')).trim().startsWith('{'), 'the editor shows JSON');
    const doc = JSON.parse(await admin.inputValue('textarea'));
    await admin.fill('textarea', JSON.stringify({ ...doc, limits: { ...doc.limits, maxRecipients: -5 } }, null, 2));
    await admin.click('.rules-editor button[type=submit]');
    await admin.locator('[data-testid=problems] li', { hasText: 'limits.maxRecipients' }).waitFor();
    assert.match(await admin.textContent('[data-testid=problems]') ?? '', /limits\.maxRecipients \(line \d+\)/);
    await shot(admin, 'rules-invalid');

    doc.lists.senderBlock.push('*@spammer.example');
    await admin.fill('textarea', JSON.stringify(doc, null, 2));
    await admin.fill('input[name=comment]', 'block spammer.example');
    await admin.click('.rules-editor button[type=submit]');
    await admin.locator('[data-testid=notice]', { hasText: 'Saved as version 3' }).waitFor();
    await admin.locator('[data-testid=history] td', { hasText: 'block spammer.example' }).waitFor();
    await waitUntil(() => scanner.rules.current().version === 3, 'the scanner applies version 3');
    assert.equal((await sendMail(scanner.smtpPort, { from: 'x@spammer.example', to: ['user@example.test'] }, message())).code, 550);
    await shot(admin, 'rules');
    await admin.goto(`${master.url}/#/dashboard`);
    await admin.locator('tr[data-node="scanner-1"] [data-testid=rules-version]', { hasText: /^v3$/ }).waitFor({ timeout: 15_000 });
  });

  await t.test('rules: the diff between two versions shows the changed lines', async () => {
    await admin.goto(`${master.url}/#/rules`);
    await admin.locator('[data-testid=current-version]', { hasText: 'version 3' }).waitFor();
    await admin.selectOption('select[name=from]', '2');
    await admin.selectOption('select[name=to]', '3');
    await admin.click('button:has-text("Show diff")');
    const added = admin.locator('[data-testid=rules-diff] .add', { hasText: '*@spammer.example' });
    await added.waitFor();
    assert.match((await added.textContent()) ?? '', /^\+ /);
    await admin.locator('[data-testid=rules-diff]').scrollIntoViewIfNeeded();
    await shot(admin, 'rules-diff');
  });

  let hostileId = '';
  await t.test('quarantine: a held message is opened and released from the page, and arrives downstream', async () => {
    const sent = await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME please', body: 'the held body' }));
    const id = queueId(sent.response);
    const hostile = await sendMail(scanner.smtpPort, { from: 'phisher@origin.test', to: ['user@example.test'] }, hostileMessage(probeUrl));
    hostileId = queueId(hostile.response);
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.length === 2, 'both held messages indexed');

    await admin.goto(`${master.url}/#/quarantine`);
    await admin.locator(`tr[data-id="${id}"]`).waitFor();
    await shot(admin, 'quarantine');
    await admin.click(`tr[data-id="${id}"] a`);
    await admin.locator('[data-testid=text-part]', { hasText: 'the held body' }).waitFor();
    const before = downstream.received.length;
    await admin.click('button:text-is("Release")');
    await admin.locator('[data-testid=notice]', { hasText: 'Released' }).waitFor();
    // The page reloads the entry after the notice: wait for the status it then shows.
    await admin.locator('[data-testid=status]', { hasText: /^released$/ }).waitFor();
    await downstream.waitFor(before + 1);
    assert.match(downstream.received.at(-1)!.raw.toString(), /QUARANTINE-ME please/);
  });

  await t.test('a hostile HTML part is shown in a sandboxed frame, and none of its code runs or loads', async () => {
    await admin.goto(`${master.url}/#/quarantine/${hostileId}`);
    const frameEl = admin.locator('iframe[data-testid=html-part]');
    await frameEl.waitFor();
    assert.equal(await frameEl.getAttribute('sandbox'), '', 'sandbox without allow-scripts or allow-same-origin');
    const srcdoc = (await frameEl.getAttribute('srcdoc')) ?? '';
    assert.match(srcdoc, /Dear customer/);
    assert.doesNotMatch(srcdoc, /<script|onerror|onload|javascript:|127\.0\.0\.1/i);
    await admin.waitForTimeout(500); // time for anything that would run or load to do so
    await shot(admin, 'quarantine-message');
    assert.equal(await admin.evaluate(() => (globalThis as { pwned?: string }).pwned), undefined, 'nothing ran in the console page');
    const frame = admin.frames().find((f) => f !== admin.mainFrame());
    assert.ok(frame, 'the HTML frame exists');
    assert.equal(await frame.evaluate(() => (globalThis as { pwned?: string }).pwned).catch(() => undefined), undefined, 'nothing ran in the frame');
    assert.deepEqual(requests.filter((u) => /pwned|remote\.png|style\.css|\/frame/.test(u)), [], 'no request came from the message');
    assert.deepEqual(probeHits, [], 'nothing was loaded from elsewhere');
  });

  await t.test('messages and reports: search the log; a report CSV downloads', async () => {
    await admin.goto(`${master.url}/#/messages`);
    await admin.locator('[data-testid=messages] td', { hasText: 'QUARANTINE-ME please' }).first().waitFor();
    await shot(admin, 'messages');
    await admin.goto(`${master.url}/#/reports`);
    await admin.locator('figure.chart canvas').waitFor();
    await admin.locator('[data-testid=per-node] tr[data-node]').first().waitFor();
    // Once shown, the page asks for nothing more (its range is fixed when chosen, not at each render).
    const reportCalls = () => requests.filter((u) => u.includes('/api/v1/reports/')).length;
    const settled = reportCalls();
    await admin.waitForTimeout(1000);
    assert.equal(reportCalls(), settled, 'no request loop');
    await shot(admin, 'reports');
    const href = await admin.getAttribute('[data-testid=traffic-csv]', 'href');
    assert.match(href ?? '', /bucket=day/, '7 days: daily buckets');
    const csv = await admin.evaluate(async (url) => (await fetch(url!)).text(), href);
    assert.match(csv, /^start,deliver,tag,quarantine,reject,total,bytes/);
    // Per node: scanner-1 quarantined the two messages so far and refused one sender at MAIL FROM
    // (a refused transaction counts as a reject); scanner-2 has carried nothing.
    const perNode = admin.locator('[data-testid=per-node] tr[data-node="scanner-1"]');
    await perNode.waitFor();
    assert.deepEqual((await perNode.locator('td').allTextContents()).slice(3), ['2', '1', '3']);
    await admin.selectOption('select[name=node]', 'scanner-2');
    await waitUntil(async () => /node=scanner-2/.test(await admin.getAttribute('[data-testid=traffic-csv]', 'href') ?? ''), 'the CSV link follows the node');
    await admin.locator('figure.chart[aria-label*="node scanner-2"] canvas').waitFor();
    // The top tables follow the node too: scanner-2 has carried nothing, scanner-1 everything.
    await admin.locator('[data-testid=top-sender][data-node=scanner-2] td', { hasText: 'None in this range.' }).waitFor();
    await admin.selectOption('select[name=node]', 'scanner-1');
    await admin.locator('[data-testid=top-sender][data-node=scanner-1] td', { hasText: 'a@origin.test' }).waitFor();
    assert.match(await admin.getAttribute('[data-testid=top-sender] a', 'href') ?? '', /node=scanner-1/, 'the CSV follows the node');
    // The chart: a legend entry per verdict, bars drawn in the colours of what scanner-1 carried.
    await admin.selectOption('select[name=node]', '');
    await admin.locator('figure.chart:not([aria-label*="node"]) canvas').waitFor();
    const legend = admin.locator('figure.chart figcaption button.legend');
    await waitUntil(async () => (await legend.allTextContents()).map((t) => t.trim()).join('|') === 'accepted 0|tagged 0|quarantined 2|rejected 1', 'a legend entry per verdict with its total');
    const painted = await chartColours(admin);
    assert.ok(painted['#7a5af8']! > 50 && painted['#d92d20']! > 50, `quarantined and rejected bars are drawn: ${JSON.stringify(painted)}`);
    assert.equal(painted['#2e90fa'], 0, 'no accepted bar: nothing was accepted yet');
    // Hover: the tooltip names the day and the counts.
    const plot = (await admin.locator('figure.chart .u-over').boundingBox())!;
    await admin.mouse.move(plot.x + plot.width - 5, plot.y + plot.height / 2);
    await waitUntil(async () => /quarantined: 2[\s\S]*rejected: 1[\s\S]*total: 3/.test(await admin.locator('.chart-tip').innerText()), 'the tooltip shows the bucket');
    assert.match(await admin.locator('.chart-tip strong').innerText(), /^\d{4}-\d{2}-\d{2}$/);
    // Split by node: one series per node that carried mail (scanner-2 has carried none).
    await admin.click('figure.chart button.toggle:has-text("By node")');
    await waitUntil(async () => (await admin.locator('figure.chart[data-split=node] button.legend').allTextContents()).map((t) => t.trim()).join('|') === 'scanner-1 3', 'a legend entry per node');
    await admin.click('figure.chart button.toggle:has-text("By verdict")');
    // The chart is drawn anew per split: drag on the new one, once it shows the verdicts again
    // (dragging on the one being replaced was lost on a loaded machine).
    await waitUntil(async () => (await admin.locator('figure.chart:not([data-split=node]) figcaption button.legend').allTextContents()).map((t) => t.trim()).join('|') === 'accepted 0|tagged 0|quarantined 2|rejected 1', 'the verdict legend is back');
    let area: { x: number; y: number; width: number; height: number } | null = null;
    await waitUntil(async () => (area = await admin.locator('figure.chart[data-split=verdict] .u-over').boundingBox()) !== null && area.width > 0, 'the new chart is drawn');
    area = area!;
    // Dragging across the chart reports on that time range.
    await admin.mouse.move(area.x + area.width * 0.6, area.y + area.height / 2);
    await admin.mouse.down();
    await admin.mouse.move(area.x + area.width - 2, area.y + area.height / 2, { steps: 5 });
    await admin.mouse.up();
    await admin.locator('input[name=from]').waitFor();
    assert.equal(await admin.locator('select[name=days]').inputValue(), 'custom');
    const zoomed = decodeURIComponent(await admin.getAttribute('[data-testid=traffic-csv]', 'href') ?? '');
    const [, zf, zt] = /from=([^&]+)&to=([^&]+)/.exec(zoomed) ?? [];
    assert.ok(zf && zt && Date.parse(zt) - Date.parse(zf) < 4 * 86_400_000, `a narrower range: ${zoomed}`);
    await admin.locator('figure.chart canvas').waitFor();
    // A custom range: backwards is refused with what to fix; a proper one sends from and to.
    await admin.selectOption('select[name=days]', 'custom');
    await admin.fill('input[name=from]', '2026-01-02T00:00');
    await admin.fill('input[name=to]', '2026-01-01T00:00');
    await admin.locator('[data-testid=range-error]', { hasText: 'must be before its end' }).waitFor();
    await admin.fill('input[name=to]', '2026-01-03T00:00');
    await admin.locator('[data-testid=range-error]').waitFor({ state: 'detached' });
    const custom = await admin.getAttribute('[data-testid=traffic-csv]', 'href') ?? '';
    assert.match(decodeURIComponent(custom), /from=2026-01-0[12]T.*&to=2026-01-0[23]T/);
    await admin.selectOption('select[name=days]', '7');
    await admin.selectOption('select[name=node]', '');
    for (const kind of ['virus', 'spf_fail', 'dkim_fail', 'dmarc_fail']) await admin.locator(`[data-testid=top-${kind}] table`).waitFor();
  });

  await t.test('message tracking: the detail of a message shows its reasons and delivery status', async () => {
    await admin.goto(`${master.url}/#/messages`);
    await admin.click('[data-testid=messages] a:has-text("QUARANTINE-ME please")');
    await admin.locator('[data-testid=verdict]', { hasText: 'quarantine' }).waitFor();
    assert.match(await admin.textContent('[data-testid=reasons]') ?? '', /content.*QUARANTINE-ME/s);
    await admin.locator('[data-testid=delivery]').waitFor();
    await shot(admin, 'message-detail');
  });

  await t.test('message tracking: the retained copy is shown in the safe viewer and re-delivered to another recipient from the page', async () => {
    // Still on the (released) quarantined message's detail: its copy stays on the node.
    await admin.locator('[data-testid=retained-copy] [data-testid=text-part]', { hasText: 'the held body' }).waitFor();
    await admin.fill('[data-testid=redeliver-to]', 'someone@elsewhere.example');
    await admin.click('[data-testid=redeliver-other]');
    await admin.locator('[data-testid=redeliver-error]', { hasText: 'someone@elsewhere.example: is not in an accepted domain' }).waitFor();
    const before = downstream.received.length;
    await admin.fill('[data-testid=redeliver-to]', 'colleague@example.test');
    await admin.click('[data-testid=redeliver-other]');
    await admin.locator('[data-testid=redeliver-notice]', { hasText: 'colleague@example.test' }).waitFor();
    await downstream.waitFor(before + 1);
    assert.deepEqual(downstream.received.at(-1)!.to, ['colleague@example.test']);
    assert.match(downstream.received.at(-1)!.raw.toString(), /X-Moat-Redelivered: /);
    await shot(admin, 'message-retained');
  });

  await t.test('message tracking: a transaction refused at MAIL FROM is listed with status refused, its detail says why and what the client was told', async () => {
    await admin.goto(`${master.url}/#/messages`);
    await admin.selectOption('select[name=status]', 'refused');
    await admin.click('form.filters button[type=submit]');
    await admin.click('[data-testid=messages] a:has-text("(refused before DATA)")');
    await admin.locator('[data-testid=refusal]').waitFor();
    assert.match(await admin.textContent('[data-testid=refusal]') ?? '', /at MAIL FROM: 550 5\.7\.1 /);
    assert.match(await admin.textContent('[data-testid=reasons]') ?? '', /sender-list.*senderBlock.*spammer\.example/s);
    assert.equal(await admin.locator('[data-testid=delivery]').count(), 0, 'no delivery section for mail never received');
    await shot(admin, 'message-refused');
  });

  await t.test('users and tokens: the admin creates a user and a token through the page; the audit log lists both', async () => {
    await admin.goto(`${master.url}/#/users`);
    await admin.locator('tr[data-user=admin]').waitFor();
    // The API's 400 details land next to the fields that caused them.
    await admin.fill('#new-user-username', 'has space');
    await admin.fill('#new-user-password', 'short');
    await admin.click('[data-testid=create-user] button[type=submit]');
    await admin.locator('[data-field-error=username]').waitFor();
    await admin.locator('[data-field-error=password]').waitFor();
    assert.equal(await admin.getAttribute('#new-user-username', 'aria-invalid'), 'true');
    assert.equal(await admin.getAttribute('#new-user-username', 'aria-describedby'), 'new-user-username-error');
    await shot(admin, 'users-invalid');
    await admin.fill('#new-user-username', 'olivia');
    await admin.fill('#new-user-password', 'olivia password 1');
    await admin.selectOption('#new-user-role', 'operator');
    await admin.click('[data-testid=create-user] button[type=submit]');
    await admin.locator('[data-testid=notice]', { hasText: 'Created olivia (operator)' }).waitFor();
    assert.equal(await admin.locator('[data-field-error]').count(), 0);
    const row = admin.locator('tr[data-user=olivia]');
    assert.equal(await row.locator('select').inputValue(), 'operator');
    // Change the role to auditor, then back, and reset the password.
    await row.locator('select').selectOption('auditor');
    await admin.locator('[data-testid=notice]', { hasText: 'olivia: role changed to auditor' }).waitFor();
    await row.locator('select').selectOption('operator');
    await admin.locator('[data-testid=notice]', { hasText: 'olivia: role changed to operator' }).waitFor();
    await row.locator('button:has-text("Reset password")').click();
    await admin.fill('#reset-password', 'olivia new password');
    await admin.click('[data-testid=reset-password] button[type=submit]');
    await admin.locator('[data-testid=notice]', { hasText: 'olivia: password reset' }).waitFor();
    const api = await apiClient(master.url, 'olivia', 'olivia new password');
    assert.equal((await api.get('/api/v1/auth/me')).json.role, 'operator');
    // The last admin cannot demote themselves: the API's 409 is shown.
    await admin.locator('tr[data-user=admin] select').selectOption('operator');
    await admin.locator('[data-testid=error]', { hasText: 'MOAT_ERR_LAST_ADMIN' }).waitFor();
    assert.equal(await admin.locator('tr[data-user=admin] select').inputValue(), 'admin');
    await shot(admin, 'users');

    await admin.click('a[href="#/tokens"]');
    await admin.fill('#new-token-name', 'ci-pipeline');
    await admin.click('[data-testid=create-token] button[type=submit]');
    const value = await admin.locator('[data-testid=token-value]').inputValue();
    assert.match(value, /^moat_[a-f0-9]{16}_/);
    assert.match(await admin.textContent('[data-testid=new-token]') ?? '', /shown only this once/);
    const me = await fetch(`${master.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(me.status, 200, 'the token shown works');
    await admin.locator('tr[data-token=ci-pipeline] .pill.ok').waitFor();
    await shot(admin, 'tokens');
    admin.once('dialog', (d) => d.accept());
    await admin.click('tr[data-token=ci-pipeline] button:has-text("Revoke")');
    await admin.locator('tr[data-token=ci-pipeline] .pill.bad', { hasText: 'revoked' }).waitFor();
    assert.equal((await fetch(`${master.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${value}` } })).status, 401);

    await admin.click('a[href="#/audit"]');
    for (const action of ['user.create', 'user.update', 'token.create', 'token.revoke']) await admin.locator(`[data-testid=audit] tr[data-action="${action}"]`).first().waitFor();
    assert.match(await admin.textContent('[data-testid=audit] tr[data-action="user.create"]') ?? '', /olivia/);
    assert.match(await admin.textContent('[data-testid=audit] tr[data-action="token.create"]') ?? '', /ci-pipeline/);
    await shot(admin, 'audit');
    await admin.fill('input[name=action]', 'token.create');
    await admin.click('button:has-text("Filter")');
    await waitUntil(async () => (await admin.locator('[data-testid=audit] tbody tr').evaluateAll((rows) => rows.every((r) => r.getAttribute('data-action') === 'token.create'))), 'only token.create entries');
  });

  await t.test('an operator does not see the users page and opening it says it needs the admin role', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page, master.url, 'olivia', 'olivia new password');
    assert.match(await page.textContent('[data-testid=who]') ?? '', /olivia\s*operator/);
    assert.equal(await page.locator('nav a[href="#/users"]').count(), 0, 'no Users link for an operator');
    assert.equal(await page.locator('nav a[href="#/tokens"]').count(), 1);
    await page.goto(`${master.url}/#/users`);
    await page.locator('[data-testid=needs-role]', { hasText: 'needs the admin role' }).waitFor();
    assert.equal(await page.locator('[data-testid=create-user]').count(), 0);
    await shot(page, 'users-forbidden');
    // And the API refuses anyway.
    const status = await page.evaluate(async () => (await fetch('/api/v1/users', { method: 'POST', headers: { 'x-moat-request': '1', 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sneaky', password: 'sneaky password', role: 'admin' }) })).status);
    assert.equal(status, 403);
    // Tokens: only their own.
    await page.goto(`${master.url}/#/tokens`);
    await page.locator('[data-testid=tokens]').waitFor();
    assert.equal(await page.locator('[data-testid=tokens] tr[data-token]').count(), 0, "an operator does not see the admin's tokens");
    assert.equal(await page.locator('select[name=userId]').count(), 0);
    await context.close();
  });

  await t.test('an auditor sees no release, delete or save; a 401 returns to the sign-in page', async () => {
    const api = await apiClient(master.url);
    assert.equal((await api.post('/api/v1/users', { username: 'audrey', password: 'auditor password 123', role: 'auditor' })).status, 201);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page, master.url, 'audrey', 'auditor password 123');
    assert.match(await page.textContent('[data-testid=who]') ?? '', /audrey\s*auditor/);
    await page.goto(`${master.url}/#/quarantine/${hostileId}`);
    await page.locator('[data-testid=status]', { hasText: 'held' }).waitFor();
    assert.equal(await page.locator('button:has-text("Release")').count(), 0);
    assert.equal(await page.locator('button:has-text("Delete")').count(), 0);
    await page.goto(`${master.url}/#/rules`);
    await page.locator('[data-testid=current-version]').waitFor();
    assert.equal(await page.locator('.rules-editor button[type=submit]').count(), 0);
    assert.equal(await page.locator('textarea[name="lists.senderBlock"]').getAttribute('readonly'), '');
    assert.equal(await page.locator('input[name="nodes.scanner-1.maintenance"]').isDisabled(), true);
    // The session ends behind the console's back: the next API call brings back the sign-in form.
    await context.clearCookies();
    await page.click('a[href="#/messages"]');
    await page.waitForSelector('form.sign-in');
    await context.close();
  });

  await t.test('quarantine: many messages released and deleted at once, with progress and per-message errors; the .eml downloads', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const sent = await sendMail(scanner.smtpPort, { from: 'bulk@origin.test', to: ['user@example.test'] }, message({ subject: `QUARANTINE-ME bulk ${i}`, body: `bulk body ${i}` }));
      ids.push(queueId(sent.response));
    }
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/quarantine?status=held&subject=bulk')).json.items.length === 4, 'the four bulk messages indexed');

    // The .eml link returns the message as message/rfc822.
    await admin.goto(`${master.url}/#/quarantine/${ids[3]}`);
    const eml = admin.locator('a:has-text("Download .eml")');
    await eml.waitFor();
    assert.equal(await eml.getAttribute('download'), `${ids[3]}.eml`);
    const got = await admin.evaluate(async (url) => {
      const res = await fetch(url!);
      return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), body: await res.text() };
    }, await eml.getAttribute('href'));
    assert.equal(got.status, 200);
    assert.match(got.type ?? '', /^message\/rfc822/);
    assert.match(got.disposition ?? '', new RegExp(`attachment; filename="${ids[3]}\\.eml"`));
    assert.match(got.body, /Subject: QUARANTINE-ME bulk 4/);
    const download = admin.waitForEvent('download');
    await eml.click();
    assert.equal((await download).suggestedFilename(), `${ids[3]}.eml`);

    await admin.goto(`${master.url}/#/quarantine`);
    for (const id of ids) await admin.locator(`tr[data-id="${id}"]`).waitFor();
    for (const id of ids.slice(0, 3)) await admin.check(`tr[data-id="${id}"] input[type=checkbox]`);
    assert.match(await admin.textContent('[data-testid=bulk-actions]') ?? '', /Release selected \(3\)/);
    // Someone else releases one of them meanwhile: that one fails, the others go through.
    // (Counted from before that release: its delivery may land before its answer does.)
    const before = downstream.received.length;
    assert.equal((await api.post(`/api/v1/quarantine/${ids[1]}/release`)).status, 200);
    await admin.click('button:has-text("Release selected")');
    await admin.locator('[data-testid=bulk-progress] label', { hasText: 'Released 2 of 3; 1 failed' }).waitFor();
    assert.equal(await admin.getAttribute('[data-testid=bulk-bar]', 'value'), '3');
    const failed = admin.locator(`[data-testid=bulk-errors] li[data-id="${ids[1]}"]`);
    assert.match(await failed.textContent() ?? '', /no longer held/);
    await admin.locator(`tr[data-id="${ids[0]}"]`).waitFor({ state: 'detached' });
    await downstream.waitFor(before + 3);
    assert.match(await admin.textContent('[data-testid=bulk-actions]') ?? '', /Release selected \(0\)/, 'what left the list is no longer selected');
    await shot(admin, 'quarantine-bulk');

    admin.once('dialog', (d) => d.accept());
    await admin.check(`tr[data-id="${ids[3]}"] input[type=checkbox]`);
    await admin.click('button:has-text("Delete selected")');
    await admin.locator('[data-testid=bulk-progress] label', { hasText: 'Deleted 1 of 1.' }).waitFor();
    const statuses = await Promise.all(ids.map(async (id) => (await api.get(`/api/v1/quarantine/${id}`)).json.status));
    assert.deepEqual(statuses, ['released', 'released', 'released', 'deleted']);
  });

  await t.test('dashboard: after mail has flowed the traffic chart has bars of each verdict that flowed', async () => {
    for (let i = 1; i <= 3; i++) assert.equal((await sendMail(scanner.smtpPort, { from: 'friend@origin.test', to: ['user@example.test'] }, message({ subject: `hello ${i}` }))).code, 250);
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/messages?action=deliver')).json.items.length >= 3, 'the delivered messages are logged');
    await admin.goto(`${master.url}/#/dashboard`);
    await admin.locator('[data-testid=nodes] tr[data-node="scanner-1"] .pill.ok').waitFor();
    await admin.locator('figure.chart canvas').waitFor();
    await waitUntil(async () => /^accepted [1-9]/.test((await admin.locator('figure.chart button.legend[data-series=accepted]').innerText()).trim()), 'the delivered messages are counted');
    const painted = await chartColours(admin);
    assert.ok(painted['#2e90fa']! > 20 && painted['#7a5af8']! > 20, `accepted and quarantined bars are drawn: ${JSON.stringify(painted)}`);
    // Throughput now: the three accepted a moment ago are in the last minute's rate, scanner-1's and the cluster's.
    const rate = (node: string, verdict: string) => admin.locator(`[data-testid=throughput] tr[data-node="${node}"] [data-verdict=${verdict}]`).innerText();
    await waitUntil(async () => Number(await rate('', 'deliver')) > 0, 'the cluster\'s accepted rate');
    assert.equal(await rate('scanner-1', 'deliver'), await rate('', 'deliver'), 'scanner-1 carried them all');
    assert.match(await rate('scanner-1', 'total'), /^\d+(\.\d+)?$/);
    // The trends: lines in the nodes' colours (scanner-1's, scanner-2's; where both are 0 the later covers the other),
    // and scanner-1's quarantine above scanner-2's empty one on the disk chart; disk use against the budget.
    for (const chart of ['trend-queue', 'trend-outbox', 'trend-disk']) {
      await admin.locator(`[data-testid=${chart}] canvas`).waitFor();
      const line = await chartColours(admin, ['#1570ef', '#dd2590'], `[data-testid=${chart}] canvas`);
      assert.ok(line['#1570ef']! + line['#dd2590']! > 50, `${chart}: lines drawn: ${JSON.stringify(line)}`);
      if (chart === 'trend-disk') assert.ok(line['#1570ef']! > 20 && line['#dd2590']! > 20, `a line per node: ${JSON.stringify(line)}`);
    }
    const legend = (await admin.locator('[data-testid=trend-queue] .legend-item').allInnerTexts()).map((t) => t.trim());
    assert.equal(legend.length, 2);
    assert.match(legend.join('|'), /^scanner-1: \d+ now\|scanner-2: \d+ now$/, 'each node\'s queue depth now');
    assert.match((await admin.locator('[data-testid=disk] tr[data-node="scanner-1"] [data-store=quarantine]').innerText()).trim(), /^\d+(\.\d)? (B|KiB) of \d+\.\d GiB \((<1|\d+)%\)$/);
    await shot(admin, 'dashboard');
  });

  await t.test('a narrow screen: every page fits its width (tables scroll inside their frame)', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await signIn(page, master.url, 'admin', ADMIN_PASSWORD);
    for (const [path, ready] of [['dashboard', 'tr[data-node="scanner-1"]'], ['quarantine', 'table'], ['messages', '[data-testid=messages]'], ['rules', '[data-testid=rules-form]'], ['reports', 'figure.chart canvas'], ['users', 'tr[data-user=admin]'], ['audit', '[data-testid=audit]']] as const) {
      await page.goto(`${master.url}/#/${path}`);
      await page.locator(ready).first().waitFor();
      const overflow = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
        return root.scrollWidth - root.clientWidth;
      });
      assert.ok(overflow <= 0, `${path} overflows a 390 px screen by ${overflow} px`);
      // The key columns of the lists stay on screen, not scrolled off to the right.
      const keyColumns = ({ dashboard: ['[data-testid=nodes]', 'Node', 'State', 'Rules', 'Queue'], quarantine: ['[data-testid=quarantine]', 'From', 'Subject', 'Status'], messages: ['[data-testid=messages]', 'From', 'Subject', 'Verdict'] } as Record<string, string[]>)[path];
      if (keyColumns) {
        const [table, ...names] = keyColumns as [string, ...string[]];
        const shown = await page.locator(`${table} thead th`).evaluateAll((ths) => ths.filter((th) => th.getBoundingClientRect().width > 0).map((th) => ({ text: th.textContent?.trim() ?? '', right: th.getBoundingClientRect().right })));
        for (const name of names) {
          const th = shown.find((s) => s.text === name);
          assert.ok(th && th.right <= 390, `${path}: the ${name} column is on a 390 px screen (${JSON.stringify(shown)})`);
        }
      }
      if (path === 'dashboard' || path === 'rules' || path === 'messages') await shot(page, `narrow-${path}`);
    }
    // The menu is folded behind its button, opens, and closes again on the way to a page.
    await page.goto(`${master.url}/#/dashboard`);
    const reportsLink = page.locator('nav a[href="#/reports"]');
    assert.equal(await reportsLink.isVisible(), false, 'the pages are folded away');
    await page.click('button.menu-toggle');
    await reportsLink.waitFor();
    assert.equal(await page.getAttribute('button.menu-toggle', 'aria-expanded'), 'true');
    await shot(page, 'narrow-menu');
    await reportsLink.click();
    await page.locator('figure.chart canvas').waitFor();
    await reportsLink.waitFor({ state: 'hidden' });
    await context.close();
  });

  await t.test('a node goes offline: the dashboard says so and a message it holds says so plainly', async () => {
    // scanner-2 is in maintenance for the balancer, but still takes direct SMTP: it holds one message.
    const sent = await sendMail(scanner2.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME on scanner-2' }));
    const id = queueId(sent.response);
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${id}`)).status === 200, 'the message is indexed');
    await scanner2.close();
    await admin.goto(`${master.url}/#/dashboard`);
    await admin.locator('[data-testid=nodes] tr[data-node="scanner-2"] .pill.bad', { hasText: 'offline' }).waitFor({ timeout: 15_000 });
    await admin.locator('[data-testid=nodes] tr[data-node="scanner-1"] .pill.ok').waitFor();
    await shot(admin, 'dashboard-node-offline');
    await admin.goto(`${master.url}/#/quarantine/${id}`);
    await admin.locator('[data-testid=node-offline]', { hasText: 'held on node scanner-2, which is offline' }).waitFor();
    assert.equal(await admin.locator('button:has-text("Release")').count(), 0, 'no action that cannot work is offered');
    const raw = await api.get(`/api/v1/quarantine/${id}/raw`);
    assert.equal(raw.status, 503);
    assert.equal(raw.json.code, 'MOAT_ERR_NODE_OFFLINE');
    await shot(admin, 'quarantine-node-offline');
    // Decommissioned: the admin removes the stopped node from the dashboard.
    await admin.goto(`${master.url}/#/dashboard`);
    admin.once('dialog', (d) => d.accept());
    await admin.click('[data-testid=nodes] tr[data-node="scanner-2"] button:has-text("Remove")');
    await admin.locator('[data-testid=notice]', { hasText: 'scanner-2 removed from the cluster' }).waitFor();
    await admin.locator('[data-testid=nodes] tr[data-node="scanner-2"]').waitFor({ state: 'detached' });
    assert.equal(await admin.locator('[data-testid=nodes] tr[data-node="scanner-1"] button:has-text("Remove")').count(), 0, 'an online node offers no removal');
  });

  await t.test('quarantine: encoded words and RFC 2231 names are shown decoded in From, Subject and the attachment list', async () => {
    const raw = [
      'From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@origin.test>', 'To: user@example.test',
      'Subject: QUARANTINE-ME =?utf-8?q?=C3=9Cberweisung_f=C3=BCr_Sie?=', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="m2"', '', '--m2', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '',
      'Gr=FC=DFe aus M=FCnchen', '--m2', "Content-Type: application/pdf; name*=utf-8''%C3%9Cberweisung.pdf",
      "Content-Disposition: attachment; filename*=utf-8''%C3%9Cberweisung.pdf", 'Content-Transfer-Encoding: base64', '', 'JVBERi0xLjQK', '--m2--', '',
    ].join('\r\n');
    const sent = await sendMail(scanner.smtpPort, { from: 'juergen@origin.test', to: ['user@example.test'] }, raw);
    const id = queueId(sent.response);
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${id}`)).status === 200, 'the message is indexed');
    await admin.goto(`${master.url}/#/quarantine/${id}`);
    await admin.locator('[data-testid=text-part]', { hasText: 'Grüße aus München' }).waitFor();
    const headers = Object.fromEntries(await admin.locator('.message dl.facts dt').evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])));
    assert.equal(headers.From, 'Jürgen Müller <juergen@origin.test>');
    assert.equal(headers.Subject, 'QUARANTINE-ME Überweisung für Sie');
    assert.match(await admin.locator('[data-testid=attachment]').innerText(), /^Überweisung\.pdf — application\/pdf, 9 B$/);
    assert.doesNotMatch(await admin.locator('.message').innerText(), /=\?utf-8\?|utf-8''/i, 'nothing is left encoded');
    await shot(admin, 'quarantine-encoded');
  });

  await t.test('an attachment name with a right-to-left override is shown with it escaped (issue 18)', async () => {
    // "invoice<U+202E>fdp.txt" reads as "invoicetxt.pdf" when the override is obeyed.
    const raw = [
      'From: a@origin.test', 'To: user@example.test', 'Subject: QUARANTINE-ME spoofed name', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="m1"', '', '--m1', 'Content-Type: text/plain; charset=utf-8', '', 'see attached', '--m1',
      'Content-Type: text/plain; charset=utf-8', 'Content-Disposition: attachment; filename="invoice\u202Efdp.txt"', '', 'not a pdf', '--m1--', '',
    ].join('\r\n');
    const sent = await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, raw);
    const id = queueId(sent.response);
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${id}`)).status === 200, 'the message is indexed');
    await admin.goto(`${master.url}/#/quarantine/${id}`);
    const item = admin.locator('[data-testid=attachment]');
    await item.waitFor();
    const shown = (await item.textContent()) ?? '';
    assert.match(shown, /^invoice⟨U\+202E⟩fdp\.txt — /);
    assert.ok(!shown.includes('\u202E'), 'the override itself is not in the page');
  });

  await t.test('dashboard: an admin makes a one-time join token for a new scanner, shown once (issue 18)', async () => {
    await admin.goto(`${master.url}/#/dashboard`);
    admin.once('dialog', (d) => d.accept('scanner-9'));
    await admin.click('[data-testid=join-token]');
    const shown = admin.locator('[data-testid=join-token-value]');
    await shown.waitFor();
    assert.match((await shown.textContent()) ?? '', /Join token for scanner-9, usable once until .* moat-join-[0-9a-f]{64}$/);
    const api = await apiClient(master.url);
    const audit = await api.get('/api/v1/audit?action=node.join-token');
    assert.ok(audit.json.entries.some((e: { target: string }) => e.target === 'node:scanner-9'), 'audited');
  });

  await t.test('CSRF: a change with the session cookie but without X-Moat-Request or a same Origin is refused', async () => {
    const cookie = (await admin.context().cookies()).find((c) => c.name === 'moat_session');
    assert.ok(cookie);
    const post = (headers: Record<string, string>) =>
      fetch(`${master.url}/api/v1/tokens`, { method: 'POST', headers: { cookie: `moat_session=${cookie.value}`, 'content-type': 'application/json', ...headers }, body: '{"name":"csrf"}' });
    for (const headers of [{}, { origin: 'http://evil.example' }] as Record<string, string>[]) {
      const res = await post(headers);
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { code: string }).code, 'MOAT_ERR_CSRF');
    }
    assert.equal((await post({ origin: master.url })).status, 201);
    assert.equal((await post({ 'x-moat-request': '1' })).status, 201);
  });

  await t.test('sign out returns to the sign-in page', async () => {
    await admin.click('button:has-text("Sign out")');
    await admin.waitForSelector('form.sign-in');
    assert.equal((await admin.context().cookies()).filter((c) => c.name === 'moat_session').length, 0);
    // The only violations are the hostile message's inline handlers, which Chrome tries while the
    // sanitiser parses the HTML and the CSP blocks (the second wall); the console's own script and styles break no rule.
    assert.deepEqual(cspViolations.filter((v) => !/^Executing inline event handler/.test(v)), [], 'the console itself breaks no CSP rule');
  });
});
