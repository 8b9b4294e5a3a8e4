import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { createDigestStore } from '../../apps/master/src/digests/settings-repository.ts';
import { signLink } from '../../apps/master/src/digests/links.ts';
import { ADMIN_PASSWORD, apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { consoleSkip as skip, launchChromium } from '../helpers/console-browser.ts';

// The learning buttons in a real browser: the console's "Mark as spam" / "Not spam" on a logged
// and on a quarantined message, the dashboard's learning panel, and the end user's page ("Report
// spam" on delivered mail with a kept copy; a release that also says "not spam"). What renders is
// checked, and what the API then reports. The scanner runs no engine: an event is applied at once
// (the engines themselves: learning.integration.test.ts, learning-fuzzy-cluster.integration.test.ts).


const queueId = (response: string) => /queued as (\S+)/.exec(response)?.[1] ?? assert.fail(`no queue id in ${response}`);
const text = async (page: Page, selector: string) => (await page.textContent(selector)) ?? '';

test('in a browser: Mark as spam / Not spam on a logged and a quarantined message, the learning panel, and the end user\'s Report spam and release', { skip, timeout: 120_000 }, async (t) => {
  const downstream = await startDownstream();
  t.after(() => downstream.close());
  const master = await startTestMaster();
  t.after(() => master.close());
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port);
  t.after(() => scanner.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const api = await apiClient(master.url);
  await waitUntil(async () => (await api.get('/api/v1/learn/nodes')).json.items.some((n: { online: boolean }) => n.online), 'the scanner online');
  const nodeId = (await api.get('/api/v1/learn/nodes')).json.items[0].nodeId as string;
  const learned = async () => (await api.get('/api/v1/learn/nodes')).json as { lastSeq: number; items: { spam: number; ham: number; appliedSeq: number }[] };

  const delivered = await sendMail(scanner.smtpPort, { from: 'news@shop.example', to: ['bob@example.test'] }, message({ subject: 'Weekly deals for bob', body: 'Cheap watches, this week only.' }));
  const deliveredId = queueId(delivered.response);
  const held = await sendMail(scanner.smtpPort, { from: 'offers@shop.example', to: ['bob@example.test'] }, message({ subject: 'QUARANTINE-ME held offer', body: 'A held offer.' }));
  const heldId = queueId(held.response);
  await waitUntil(async () => (await api.get(`/api/v1/messages/${nodeId}/${deliveredId}`)).json.retained?.status === 'kept', 'the delivered message and its kept copy in the log');
  await waitUntil(async () => (await api.get(`/api/v1/messages/${nodeId}/${deliveredId}`)).json.delivery?.delivered?.length === 1, 'its delivery in the log');
  await waitUntil(async () => (await api.get(`/api/v1/quarantine/${heldId}`)).json.status === 'held', 'the held message indexed');

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');

  await t.test('a logged message: Mark as spam shows that every scanner applied it, and the API counts it', async () => {
    await page.goto(`${master.url}/#/messages/${nodeId}/${deliveredId}`);
    await page.waitForSelector('[data-testid=learn] button:has-text("Mark as spam")');
    assert.ok(await page.isVisible('[data-testid=learn] button:has-text("Not spam")'));
    await page.click('[data-testid=learn] button:has-text("Mark as spam")');
    await page.waitForSelector('[data-testid=learn-result]');
    assert.match(await text(page, '[data-testid=learn-result]'), /^Learned as spam\. Applied on 1 node \(scanner-1\)\.$/);
    const l = await learned();
    assert.equal(l.lastSeq, 1);
    assert.deepEqual({ seq: l.items[0]!.appliedSeq, spam: l.items[0]!.spam, ham: l.items[0]!.ham }, { seq: 1, spam: 1, ham: 0 });
  });

  await t.test('Not spam reverses it, and says so', async () => {
    await page.click('[data-testid=learn] button:has-text("Not spam")');
    await page.waitForFunction(() => /not spam/.test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('[data-testid=learn-result]')?.textContent ?? ''));
    assert.match(await text(page, '[data-testid=learn-result]'), /^Learned as not spam \(it was spam before: unlearned first\)\. Applied on 1 node \(scanner-1\)\.$/);
    assert.equal((await learned()).items[0]!.appliedSeq, 2);
  });

  await t.test('the dashboard\'s learning panel shows what the node applied', async () => {
    await page.goto(`${master.url}/#/dashboard`);
    await page.waitForSelector('[data-testid=learning] tr[data-node="scanner-1"]');
    const row = 'tr[data-node="scanner-1"]';
    assert.equal((await text(page, `${row} [data-testid=learn-applied]`)).trim(), '2 of 2');
    assert.equal(await text(page, `${row} [data-testid=learn-spam]`), '1');
    assert.equal(await text(page, `${row} [data-testid=learn-ham]`), '1');
    assert.equal(await text(page, `${row} [data-testid=learn-error]`), '—');
  });

  await t.test('a quarantined message: Mark as spam from its quarantine page', async () => {
    await page.goto(`${master.url}/#/quarantine/${heldId}`);
    await page.waitForSelector('[data-testid=learn] button:has-text("Mark as spam")');
    await page.click('[data-testid=learn] button:has-text("Mark as spam")');
    await page.waitForSelector('[data-testid=learn-result]');
    assert.match(await text(page, '[data-testid=learn-result]'), /^Learned as spam\. Applied on 1 node \(scanner-1\)\.$/);
    assert.equal((await learned()).lastSeq, 3);
  });

  await t.test('the end user\'s page: Report spam on delivered mail, and a release that is also "not spam"', async () => {
    const secret = await createDigestStore(master.database.db).secret();
    const link = signLink(secret, { action: 'open', nodeId: '', messageId: '', recipient: 'bob@example.test', expiresAt: Date.now() + 600_000 });
    const user = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const violations: string[] = [];
    user.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await user.goto(`${master.url}/user/link?t=${link}`);
    await user.waitForSelector('h2:has-text("Delivered to you")');
    assert.match(await text(user, 'body'), /Released mail is delivered to your mailbox, and the filter learns that it is not spam/);
    const row = `tr:has-text("Weekly deals for bob")`;
    assert.ok(await user.isVisible(`${row} button:has-text("Report spam")`));
    await user.click(`${row} button:has-text("Report spam")`);
    await user.waitForSelector('h1:has-text("Reported")');
    assert.match(await text(user, 'body'), /the filter has learned that this message is spam/);
    const l = await learned();
    assert.equal(l.lastSeq, 4, 'the end user\'s lesson is a new event (ham → spam)');
    assert.equal(l.items[0]!.appliedSeq, 4);
    await user.goto(`${master.url}/user/`);
    await user.waitForSelector(`${row} >> text=Reported as spam`);
    assert.equal(await user.isVisible(`${row} button:has-text("Report spam")`), false);

    await user.click('tr:has-text("QUARANTINE-ME held offer") button:has-text("Release") >> nth=0');
    await user.waitForSelector('text=It was marked as not spam');
    await downstream.waitFor(2);
    await waitUntil(async () => (await learned()).lastSeq === 5, 'the release\'s not-spam lesson');
    await waitUntil(async () => (await learned()).items[0]!.appliedSeq === 5, 'applied on the scanner');
    const audit = (await api.get('/api/v1/audit?username=enduser:bob@example.test')).json.entries as { action: string; target: string }[];
    assert.deepEqual(audit.filter((a) => a.action.startsWith('learn.')).map((a) => `${a.action} ${a.target}`).sort(), [`learn.ham ${nodeId}/${heldId}`, `learn.spam ${nodeId}/${deliveredId}`]);
    assert.deepEqual(violations, []);
    await user.close();
  });
});
