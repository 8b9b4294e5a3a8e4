import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { ADMIN_PASSWORD, apiClient, startTestMaster } from '../helpers/cluster-harness.ts';
import { consoleSkip as skip, launchChromium } from '../helpers/console-browser.ts';


/**
 * Issue 18: an admin's rules save silently undid the changes saved since the page was
 * loaded. The console now sends the version it loaded; a save over another admin's change is
 * refused (409) and the page says what changed, with a button to load the current version.
 */
test('console rules page: a save over a change made since the page loaded is refused and the page says what changed', { skip, timeout: 90_000 }, async (t) => {
  const master = await startTestMaster();
  const browser: Browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await master.close();
  });
  const page = await browser.newPage();
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  await page.goto(`${master.url}/#/rules`);
  await page.waitForSelector('[data-testid=current-version]');
  assert.match((await page.textContent('[data-testid=current-version]')) ?? '', /version 1/);

  // Meanwhile another admin adds a content rule through the API (from version 1).
  const other = await apiClient(master.url);
  const doc = (await other.get('/api/v1/rules')).json.document;
  const saved = await other.put('/api/v1/rules?baseVersion=1&comment=another%20admin', { ...doc, content: [...doc.content, { id: 'other-admins-rule', target: 'subject', contains: 'OTHER', action: 'tag' }] });
  assert.equal(saved.status, 200, saved.text);

  // This page still holds version 1: its save is refused, and it says so.
  await page.selectOption('select[name=mode]', 'json');
  await page.fill('input[name=comment]', 'my edit');
  await page.click('.rules-editor button[type=submit]');
  const alert = page.locator('[data-testid=stale-rules]');
  await alert.waitFor();
  const text = (await alert.textContent()) ?? '';
  assert.match(text, /Nothing was saved: the rules changed since you opened version 1 \(now version 2\)/);
  assert.match(text, /version 2 by admin: another admin/);
  assert.match(text, /content rules added: other-admins-rule/);
  assert.equal((await other.get('/api/v1/rules')).json.version, 2, 'nothing stored');

  // Loading the current version clears the warning; saving from it works.
  await alert.locator('button').click();
  await page.locator('[data-testid=current-version]', { hasText: 'version 2' }).waitFor();
  assert.equal(await alert.count(), 0);
  await page.click('.rules-editor button[type=submit]');
  await page.waitForSelector('[data-testid=notice]');
  assert.match((await page.textContent('[data-testid=notice]')) ?? '', /Saved as version 3/);
});
