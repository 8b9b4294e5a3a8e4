import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, apiClient, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { consoleSkip as skip, launchChromium, shot, SHOTS } from '../helpers/console-browser.ts';
import { startConsoleCluster } from '../helpers/console-cluster.ts';

/**
 * What administrators use daily (issue 20), in a real browser against a real master and scanner:
 * the relay queue per node (deferred mail, why, attempts, next attempt; retry now, bounce with
 * the bounce reaching the sender, delete); "release and allow sender" and "block sender" on a
 * quarantined message; your own password change.
 */
test('console admin pages: the relay queue of a node, retry, bounce, delete', { skip, timeout: 120_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  // The downstream defers every slow-* recipient, as a mail server that is busy does; the rest it takes.
  const { downstream, master, scanner, browser, api } = await startConsoleCluster(t, { downstream: { rcpt: (a) => (a.startsWith('slow') ? { code: 451, text: '4.3.2 mailbox busy, try later' } : undefined) } });
  const nodeId = (await api.get('/api/v1/nodes')).json.items[0].id as string;

  for (const who of ['slow-retry', 'slow-bounce', 'slow-delete']) {
    const from = `${who.replace('slow-', '')}-sender@example.test`;
    await sendMail(scanner.smtpPort, { from, to: [`${who}@example.test`] }, message({ from, to: `${who}@example.test`, subject: `for ${who}` }));
  }
  await waitUntil(async () => {
    const q = (await api.get(`/api/v1/nodes/${nodeId}/queue`)).json;
    return q.entries?.length === 3 && q.entries.every((e: { attempts: number }) => e.attempts >= 1);
  }, 'three deferred messages in the queue', 15_000, 100);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  await page.click('nav >> text=Queue');
  const row = (rcpt: string) => page.locator('[data-testid=queue] tr[data-queue-id]', { hasText: `${rcpt}@example.test` });
  await row('slow-bounce').waitFor();
  assert.equal(await page.locator('[data-testid=queue] tr[data-queue-id]').count(), 3);
  const cells = await row('slow-bounce').locator('td').allTextContents();
  assert.match(cells[1]!, /bounce-sender@example\.test/);
  assert.match(cells[3]!, /451 4\.3\.2 mailbox busy/, 'why it waits: the downstream\'s reply');
  assert.match(cells[4]!, /^[1-9]\d*$/, 'attempts');
  assert.match(cells[5]!, /due now|in \d+ s/, 'the next attempt');
  assert.match((await page.locator('[data-testid=queue-summary]').textContent()) ?? '', /3 messages queued on scanner-1/);
  assert.match((await page.locator('button[data-node=scanner-1]').textContent()) ?? '', /scanner-1/);
  await shot(page, 'queue');

  page.on('dialog', (d) => void d.accept());
  const notice = page.locator('[data-testid=notice]');
  /** Click an action; one that met the entry mid-attempt (409, the scanner retries every second here) is clicked again. */
  async function act(rcpt: string, label: string, done: RegExp): Promise<void> {
    await waitUntil(async () => {
      await row(rcpt).getByRole('button', { name: new RegExp(`^${label}`) }).click();
      await waitUntil(async () => /Retrying|Bounced|Deleted|being delivered/.test((await notice.textContent().catch(() => '')) ?? ''), `the ${label} answer`);
      const text = (await notice.textContent()) ?? '';
      if (/being delivered/.test(text)) return false;
      assert.match(text, done);
      return true;
    }, `${label} for ${rcpt}`, 15_000, 50);
  }

  await act('slow-retry', 'Retry now', /Retrying the message to slow-retry@example\.test now/);
  await act('slow-bounce', 'Bounce', /Bounced the message to slow-bounce@example\.test/);
  await row('slow-bounce').waitFor({ state: 'detached' });
  // The sender is told: a DSN from the null sender, naming the recipient, 5.0.0 and the last error.
  await waitUntil(() => downstream.received.some((m) => m.to.includes('bounce-sender@example.test')), 'the bounce reached the sender');
  const dsn = downstream.received.find((m) => m.to.includes('bounce-sender@example.test'))!;
  assert.equal(dsn.from, '');
  const dsnText = dsn.raw.toString('utf8');
  assert.match(dsnText, /Final-Recipient: rfc822; ?slow-bounce@example\.test/i);
  assert.match(dsnText, /Status: 5\.0\.0/);
  assert.match(dsnText, /Returned by the gateway's administrator after \d+ attempts?; last error: .*451/);

  await act('slow-delete', 'Delete', /Deleted the message to slow-delete@example\.test/);
  await row('slow-delete').waitFor({ state: 'detached' });
  assert.equal(downstream.received.some((m) => m.to.includes('delete-sender@example.test')), false, 'a delete tells no one');

  // The message log says what became of each; the audit log names who did it.
  await waitUntil(async () => {
    const items = (await api.get('/api/v1/messages?recipient=slow-bounce@example.test')).json.items ?? [];
    return items[0]?.status === 'bounced';
  }, 'the bounce in the message log', 10_000, 100);
  const audit = (await api.get('/api/v1/audit?limit=20')).json.entries.map((e: { action: string }) => e.action);
  for (const a of ['queue.retry', 'queue.bounce', 'queue.delete']) assert.ok(audit.includes(a), `${a} audited: ${audit.join(', ')}`);

  // An auditor sees the queue without its actions; the API refuses them anyway.
  const auditor = await api.post('/api/v1/users', { username: 'watcher', password: 'watcher-password-1', role: 'auditor' });
  assert.equal(auditor.status, 201);
  const viewer = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await viewer.goto(`${master.url}/#/queue`);
  await viewer.fill('input[name=username]', 'watcher');
  await viewer.fill('input[name=password]', 'watcher-password-1');
  await viewer.click('button[type=submit]');
  await viewer.locator('[data-testid=queue] tr[data-queue-id]').first().waitFor();
  assert.equal(await viewer.locator('[data-testid=queue] button').count(), 0);
});

test('console admin: release and allow sender, block sender, from a quarantined message', { skip, timeout: 120_000 }, async (t) => {
  const { downstream, master, scanner, browser, api } = await startConsoleCluster(t);
  const held: Record<string, string> = {};
  for (const who of ['Friend@Partner.test', 'spammer@junk.test']) {
    const sent = await sendMail(scanner.smtpPort, { from: who, to: ['user@example.test'] }, message({ from: who, subject: `QUARANTINE-ME from ${who}` }));
    held[who] = /queued as (\w+)/.exec(sent.response)![1]!;
  }
  await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.length === 2, 'both held messages indexed');
  const before = (await api.get('/api/v1/rules')).json.version as number;

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${master.url}/#/quarantine/${held['Friend@Partner.test']}`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.locator('[data-testid=text-part]').waitFor();
  await shot(page, 'quarantine-admin-actions');
  await page.locator('button', { hasText: 'Release and allow sender' }).click();
  const notice = page.locator('[data-testid=notice]');
  await notice.waitFor();
  assert.match((await notice.textContent()) ?? '', new RegExp(`^Released, and friend@partner\\.test is allowed from rules version ${before + 1} on\\.`));
  // The page reloads the entry after the notice: wait for the status it then shows.
  await page.locator('[data-testid=status]', { hasText: /^released$/ }).waitFor();
  await waitUntil(() => downstream.received.some((m) => m.raw.toString().includes('QUARANTINE-ME from Friend@Partner.test')), 'the released message delivered');
  let rules = (await api.get('/api/v1/rules')).json;
  assert.deepEqual(rules.document.lists.senderAllow, ['friend@partner.test']);

  await page.goto(`${master.url}/#/quarantine/${held['spammer@junk.test']}`);
  await page.locator('button', { hasText: 'Block sender' }).click();
  await page.locator('[data-testid=notice]', { hasText: 'blocked' }).waitFor();
  assert.match((await notice.textContent()) ?? '', new RegExp(`^spammer@junk\\.test is blocked from rules version ${before + 2} on\\. The message stays held`));
  assert.equal(await page.textContent('[data-testid=status]'), 'held');
  rules = (await api.get('/api/v1/rules')).json;
  assert.deepEqual(rules.document.lists.senderBlock.filter((e: string) => e === 'spammer@junk.test'), ['spammer@junk.test']);
  const audit = (await api.get('/api/v1/audit?action=rules.update')).json.entries.map((e: { details: { comment?: string } }) => e.details.comment);
  assert.ok(audit.some((c: string | undefined) => /blocked sender spammer@junk\.test/.test(c ?? '')), `the rules change names why: ${audit.join(' | ')}`);
  // Once the scanner runs that version, the sender is refused at MAIL FROM.
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0].rulesVersion === before + 2, 'the scanner applied the block');
  const again = await sendMail(scanner.smtpPort, { from: 'spammer@junk.test', to: ['user@example.test'] }, message({ subject: 'again' }));
  assert.equal(again.code, 550, again.response);
});

test('console admin: your own password change ends your other sessions and tokens, not this one', { skip, timeout: 120_000 }, async (t) => {
  const master = await startTestMaster();
  const browser: Browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await master.close();
  });
  const admin = await apiClient(master.url);
  assert.equal((await admin.post('/api/v1/users', { username: 'olga', password: 'olga-old-password', role: 'operator' })).status, 201);
  const elsewhere = await apiClient(master.url, 'olga', 'olga-old-password');
  const token = (await elsewhere.post('/api/v1/tokens', { name: 'laptop' })).json.token as string;
  const byToken = () => fetch(`${master.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
  assert.equal(await byToken(), 200);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(master.url);
  await page.fill('input[name=username]', 'olga');
  await page.fill('input[name=password]', 'olga-old-password');
  await page.click('button[type=submit]');
  await page.click('[data-testid=who]');
  const form = page.locator('[data-testid=password-form]');
  const fill = async (current: string, next: string, repeat: string) => {
    await form.locator('input[name=currentPassword]').fill(current);
    await form.locator('input[name=newPassword]').fill(next);
    await form.locator('input[name=repeat]').fill(repeat);
    await form.locator('button[type=submit]').click();
  };
  const fieldError = (name: string) => form.locator(`[data-field-error=${name}]`);
  // A wrong current password, a new one too short, a repeat that differs: each beside its field, nothing changed.
  await fill('not-my-password', 'olga-new-password', 'olga-new-password');
  assert.match((await fieldError('currentPassword').textContent()) ?? '', /not your current password/);
  await fill('olga-old-password', 'short', 'short');
  assert.match((await fieldError('newPassword').textContent()) ?? '', /8/);
  await fill('olga-old-password', 'olga-new-password', 'olga-new-passwort');
  assert.match((await fieldError('repeat').textContent()) ?? '', /does not match/);
  assert.equal((await elsewhere.get('/api/v1/auth/me')).status, 200, 'nothing changed yet');
  await shot(page, 'account-invalid');

  await fill('olga-old-password', 'olga-new-password', 'olga-new-password');
  await page.locator('[data-testid=notice]', { hasText: 'Password changed' }).waitFor();
  assert.equal(await form.locator('[aria-invalid=true]').count(), 0);
  await shot(page, 'account');
  // The other session and the token are gone; this one stays; the new password signs in.
  assert.equal((await elsewhere.get('/api/v1/auth/me')).status, 401);
  assert.equal(await byToken(), 401);
  await page.reload();
  await page.locator('[data-testid=who]', { hasText: 'olga' }).waitFor();
  await apiClient(master.url, 'olga', 'olga-new-password');
  const entry = (await admin.get('/api/v1/audit?action=auth.password_change')).json.entries[0];
  assert.deepEqual({ user: entry.username, ...entry.details }, { user: 'olga', sessionsEnded: 1, tokensRevoked: 1 });
});
