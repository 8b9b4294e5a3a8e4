import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { signLink } from '../../apps/master/src/digests/links.ts';
import { createDigestStore } from '../../apps/master/src/digests/settings-repository.ts';
import { apiClient, startTestMaster } from '../helpers/cluster-harness.ts';
import { browserSkip, CHROMIUM } from '../helpers/console-browser.ts';

const skip = browserSkip;

/**
 * Issue 18: the digest's "your quarantine" link failed when clicked in webmail: the landing
 * set the SameSite=Strict session cookie and redirected to /user/, and a redirect stays part
 * of the cross-site navigation, so the browser left the cookie out and the page said there
 * was no session. The webmail here is a page on another site (`localhost` vs `127.0.0.1`:
 * different sites to a browser), and the browser is a real Chromium.
 */
test('a digest link clicked in webmail (another site) opens the recipient\'s quarantine page at the first click', { skip, timeout: 60_000 }, async (t) => {
  const master = await startTestMaster();
  // The digest secret exists once digests are set up; reading the settings makes sure of it.
  assert.equal((await (await apiClient(master.url)).get('/api/v1/digests/settings')).status, 200);
  const secret = await createDigestStore(master.database.db).secret();
  const token = signLink(secret, { action: 'open', nodeId: '', messageId: '', recipient: 'bob@example.test', expiresAt: Date.now() + 3_600_000 });
  const link = `http://127.0.0.1:${master.port}/user/link?t=${token}`;
  const webmail = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><p>Your digest: <a id="open" href="${link}">your quarantine</a></p>`));
  await new Promise<void>((r) => webmail.listen(0, '127.0.0.1', r));
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  t.after(async () => {
    await browser.close();
    webmail.close();
    await master.close();
  });
  const page = await browser.newPage();
  await page.goto(`http://localhost:${(webmail.address() as AddressInfo).port}/`);
  await page.click('#open');
  await page.waitForURL(`http://127.0.0.1:${master.port}/user/`);
  // Without the cookie /user/ answers 401 "Please use your digest".
  assert.equal(await page.locator('h1').textContent(), 'Quarantine of bob@example.test');
});
