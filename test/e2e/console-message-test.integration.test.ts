import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { GTUBE } from '@moat/rules';
import { ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { unreadableText } from '../helpers/readable-text.ts';
import { waitUntil } from '../helpers/wait.ts';
import { consoleSkip as skip, shot, SHOTS } from '../helpers/console-browser.ts';
import { startConsoleCluster } from '../helpers/console-cluster.ts';

const plain = message({ from: 'sender@origin.test', to: 'user@example.test', subject: 'Lunch on Friday', body: 'Shall we meet at noon?' }).replace(/\r\n/g, '\n');

/** Fill the page's form: the message pasted, the envelope; then Test, and wait for the answer (or a field error). */
async function runTest(page: Page, text: string, rcptTo = 'user@example.test'): Promise<void> {
  await page.fill('textarea[name=message]', text);
  await page.fill('input[name=mailFrom]', 'sender@origin.test');
  await page.fill('input[name=rcptTo]', rcptTo);
  await page.click('[data-testid=run-test]');
  await page.locator('[data-testid=run-test]:not([disabled])').waitFor();
}

/** Wait until the result shows this verdict (a new answer replaces the last one). */
async function verdictIs(page: Page, action: string): Promise<void> {
  await page.locator('[data-testid=test-verdict]').filter({ hasText: new RegExp(`^\\s*${action}\\s*$`) }).waitFor();
}

/**
 * "Test a message" (issue 20) in a real browser against a real master and scanner: GTUBE is
 * rejected with reason gtube, a plain message delivers, a draft edited in the rules editor (not
 * saved) quarantines it in the test only, with each reason's score drawn as a bar; the live
 * rules keep their version and nothing reaches the log or the downstream.
 */
test('console: test a message under the current rules and under the rules editor\'s draft', { skip, timeout: 120_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const { downstream, master, scanner, browser, api } = await startConsoleCluster(t);
  const live = (await api.get('/api/v1/rules')).json as { version: number; document: Record<string, unknown> };

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  await page.click('nav >> text=Test a message');
  await page.waitForSelector('[data-testid=message-test-form]');

  // A missing recipient: the API's 400 names body.envelope.rcptTo, shown beside RCPT TO.
  await runTest(page, plain, '');
  assert.match(await page.locator('[data-field-error=rcptTo]').textContent() ?? '', /recipient|required/);
  assert.equal(await page.locator('[data-testid=test-result]').count(), 0);

  await runTest(page, message({ subject: 'test', body: `hello ${GTUBE}` }).replace(/\r\n/g, '\n'));
  await page.waitForSelector('[data-testid=test-result]');
  assert.equal((await page.textContent('[data-testid=test-verdict]'))?.trim(), 'reject');
  assert.match(await page.textContent('[data-testid=test-reply]') ?? '', /^550 5\.7\.1/);
  assert.equal(await page.locator('[data-testid=test-reasons] tr[data-rule=gtube]').count(), 1);
  assert.match(await page.textContent('[data-testid=test-rules]') ?? '', new RegExp(`version ${live.version}`));

  await runTest(page, plain);
  await verdictIs(page, 'deliver');
  assert.equal(await page.locator('[data-testid=no-reasons]').count(), 1);
  assert.match(await page.textContent('[data-testid=test-envelope]') ?? '', /RCPT TO.*user@example\.test.*accepted.*250/s);

  // The rules editor: a content rule that quarantines on the subject and one that scores the body, not saved.
  await page.click('nav >> text=Rules');
  // The stored rules loaded first: the editor shows before they arrive, and their arrival resets it (an edit typed earlier is lost).
  await page.locator('[data-testid=current-version]').filter({ hasText: `version ${live.version}` }).waitFor();
  await page.selectOption('select[name=mode]', 'json');
  const edited = { ...live.document, content: [...(live.document['content'] as unknown[]), { id: 'hold-lunch', target: 'subject', contains: 'Lunch', action: 'quarantine' }, { id: 'noon-score', target: 'body', contains: 'noon', score: 6 }] };
  delete (edited as { version?: number }).version;
  await page.fill('textarea[name=document]', JSON.stringify(edited, null, 2));
  await page.click('[data-testid=test-draft]');
  await page.waitForSelector('[data-testid=message-test-form]');
  const editorChoice = page.locator('label.choice', { hasText: 'The draft in the rules editor' }).locator('input');
  assert.equal(await editorChoice.isDisabled(), false, 'the editor\'s draft is offered');
  await editorChoice.check();
  await runTest(page, plain);
  await verdictIs(page, 'quarantine');
  assert.equal((await page.textContent('[data-testid=test-rules]'))?.trim(), 'the draft (not saved)');
  assert.equal(await page.locator('[data-testid=test-reasons] tr[data-rule=hold-lunch]').count(), 1);
  const bar = await page.locator('[data-testid=test-reasons] tr[data-rule=noon-score] [data-testid=score-fill]').boundingBox();
  const track = await page.locator('[data-testid=test-reasons] tr[data-rule=noon-score] .score-bar').boundingBox();
  assert.ok(bar && track && bar.width > 0, 'the score is drawn as a bar');
  assert.ok(Math.abs(bar.width / track.width - 6 / 20) < 0.02, `6 of the reject threshold 20 is 30% of the bar (${bar.width} of ${track.width})`);
  assert.match(await page.textContent('[data-testid=test-reasons] tr[data-rule=noon-score]') ?? '', /\+6/);
  await shot(page, 'message-test');

  // The live rules are untouched: same version, and the current rules still deliver it.
  assert.equal((await api.get('/api/v1/rules')).json.version, live.version);
  await page.locator('label.choice', { hasText: 'The current rules' }).locator('input').check();
  await page.click('[data-testid=run-test]');
  await verdictIs(page, 'deliver');

  // A pasted draft that does not validate: the API's problem beside the rules, by its key.
  await page.locator('label.choice', { hasText: 'A draft pasted here' }).locator('input').check();
  await page.fill('textarea[name=rules-text]', JSON.stringify({ ...edited, scoring: { tag: 5, quarantine: 2, reject: 20 } }));
  await page.click('[data-testid=run-test]');
  await page.waitForSelector('[data-field-error=rules]');
  assert.match(await page.textContent('[data-field-error=rules]') ?? '', /scoring\.quarantine/);
  await shot(page, 'message-test-invalid');

  // An uploaded .eml with an 8-bit byte goes as base64: GTUBE in it still rejects.
  await page.locator('label.choice', { hasText: 'The current rules' }).locator('input').check();
  await page.setInputFiles('input[name=upload]', { name: 'gtube.eml', mimeType: 'message/rfc822', buffer: Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from(`\r\n\r\n${GTUBE}\r\n`)]) });
  await page.locator('[data-testid=upload]').filter({ hasText: 'gtube.eml' }).waitFor();
  await page.click('[data-testid=run-test]');
  await verdictIs(page, 'reject');
  assert.equal(await page.locator('[data-testid=test-reasons] tr[data-rule=gtube]').count(), 1);

  // A 390 px screen: the page and its answer fit (the tables scroll inside their frames).
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return root.scrollWidth - root.clientWidth;
  });
  assert.ok(overflow <= 0, `the page overflows a 390 px screen by ${overflow} px`);
  assert.deepEqual(await unreadableText(page), []);
  await page.setViewportSize({ width: 1280, height: 900 });

  // Nothing was logged or relayed: one real message after the tests is the log's only entry.
  assert.equal((await sendMail(scanner.smtpPort, { from: 'last@origin.test', to: ['user@example.test'] }, message({ subject: 'Real' }))).code, 250);
  await downstream.waitFor(1);
  await waitUntil(async () => (await api.get('/api/v1/messages')).json.items.length > 0, 'the real message logged');
  assert.deepEqual((await api.get('/api/v1/messages')).json.items.map((m: { subject: string }) => m.subject), ['Real']);
  assert.equal(downstream.received.length, 1);

  // From the log: the message's page links to a test of its kept copy, with its logged envelope.
  const item = (await api.get('/api/v1/messages')).json.items[0] as { nodeId: string; id: string };
  await page.goto(`${master.url}/#/messages/${item.nodeId}/${item.id}`);
  await page.click('[data-testid=test-this]');
  await page.waitForSelector('input[name=fromLog]');
  await page.click('[data-testid=run-test]');
  await verdictIs(page, 'deliver');
  assert.match(await page.textContent('[data-testid=test-envelope]') ?? '', /last@origin\.test/);
});
