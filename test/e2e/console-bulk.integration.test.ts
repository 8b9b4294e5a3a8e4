import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { ADMIN_PASSWORD, apiClient } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { consoleSkip as skip, shot, SHOTS } from '../helpers/console-browser.ts';
import { startConsoleCluster } from '../helpers/console-cluster.ts';

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

/** `datetime-local` text for epoch ms in UTC (the page runs in UTC), to the second. */
const utcInput = (ms: number) => new Date(ms).toISOString().slice(0, 19);

/**
 * Message tracking by date range (issue 20): the log's from/to fields, kept in the URL; a
 * message before the range's start disappears and one inside stays, and the other way round for its end.
 */
test('console: message tracking by a received from/to range, kept in the URL', { skip, timeout: 120_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const { downstream, master, scanner, browser, api } = await startConsoleCluster(t);

  const receivedAt = async (subject: string): Promise<number> => {
    let at = 0;
    await waitUntil(async () => {
      const item = (await api.get(`/api/v1/messages?subject=${encodeURIComponent(subject)}`)).json.items?.[0];
      at = item ? Date.parse(item.receivedAt) : 0;
      return at > 0;
    }, `${subject} in the log`, 10_000, 50);
    return at;
  };
  await sendMail(scanner.smtpPort, { from: 'early@origin.test', to: ['user@example.test'] }, message({ subject: 'TRACK early' }));
  const early = await receivedAt('TRACK early');
  // The range's edge falls between the two: the second one is received in a later second.
  await waitUntil(() => Math.floor(Date.now() / 1000) > Math.floor(early / 1000), 'the next second');
  await sendMail(scanner.smtpPort, { from: 'late@origin.test', to: ['user@example.test'] }, message({ subject: 'TRACK late' }));
  const late = await receivedAt('TRACK late');
  const edge = Math.floor(late / 1000) * 1000;
  assert.ok(early < edge && edge <= late, `early ${early} < edge ${edge} <= late ${late}`);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC' });
  await page.goto(`${master.url}/#/messages`);
  await signIn(page, 'admin', ADMIN_PASSWORD);
  const form = page.locator('[data-testid=messages-search]');
  const row = (subject: string) => page.locator('[data-testid=messages] tbody tr', { hasText: subject });
  await row('TRACK early').waitFor();
  await row('TRACK late').waitFor();

  // From the edge on: the early message disappears, the late one stays.
  await form.locator('input[name=subject]').fill('TRACK');
  await form.locator('input[name=fromLocal]').fill(utcInput(edge));
  await form.locator('button[type=submit]').click();
  await row('TRACK early').waitFor({ state: 'detached' });
  await row('TRACK late').waitFor();
  assert.equal(await page.locator('[data-testid=messages] tbody tr[data-id]').count(), 1);
  const url = new URL(page.url());
  const kept = new URLSearchParams(url.hash.split('?')[1]);
  assert.equal(kept.get('from'), new Date(edge).toISOString(), 'the range is in the URL, in UTC');
  assert.equal(kept.get('subject'), 'TRACK');
  await shot(page, 'messages-range');

  // The URL alone brings the same search back: fields filled, same rows.
  await page.reload();
  await row('TRACK late').waitFor();
  assert.equal(await form.locator('input[name=fromLocal]').inputValue(), utcInput(edge));
  assert.equal(await form.locator('input[name=subject]').inputValue(), 'TRACK');
  assert.equal(await row('TRACK early').count(), 0);

  // Up to the edge: the other way round.
  await form.locator('input[name=fromLocal]').fill('');
  await form.locator('input[name=toLocal]').fill(utcInput(edge));
  await form.locator('button[type=submit]').click();
  await row('TRACK late').waitFor({ state: 'detached' });
  await row('TRACK early').waitFor();
  assert.equal(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('to'), new Date(edge).toISOString());

  // A range that ends before it starts is refused beside the fields, and the search stays as it was.
  await form.locator('input[name=fromLocal]').fill(utcInput(edge + 60_000));
  await form.locator('button[type=submit]').click();
  await page.locator('[data-field-error=from]', { hasText: 'The start must be before the end.' }).waitFor();
  assert.equal(await form.locator('input[name=fromLocal]').getAttribute('aria-invalid'), 'true');
  await row('TRACK early').waitFor();

  // Back and forward walk the searches, like any page.
  await page.goBack();
  await row('TRACK late').waitFor();
  assert.equal(await row('TRACK early').count(), 0);
});

/**
 * Server-side bulk actions on the quarantine (issue 20): every held message matching a search is
 * released by a job on the master, with a progress bar until it ends; a held message outside the
 * search is untouched; each release is audited, and the job with its counts and search.
 */
test('console: release every held message matching a search, as a job on the master, with progress', { skip, timeout: 120_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const { downstream, master, scanner, browser, api: admin } = await startConsoleCluster(t);
  assert.equal((await admin.post('/api/v1/users', { username: 'oscar', password: 'oscar-password-1', role: 'operator' })).status, 201);
  assert.equal((await admin.post('/api/v1/users', { username: 'ada', password: 'ada-password-12', role: 'auditor' })).status, 201);
  const operator = await apiClient(master.url, 'oscar', 'oscar-password-1');
  const auditor = await apiClient(master.url, 'ada', 'ada-password-12');

  const PROMO = 5;
  for (let i = 1; i <= PROMO; i++) {
    await sendMail(scanner.smtpPort, { from: `news${i}@promo.test`, to: ['user@example.test'] }, message({ from: `news${i}@promo.test`, subject: `QUARANTINE-ME promo ${i}` }));
  }
  await sendMail(scanner.smtpPort, { from: 'boss@keep.test', to: ['user@example.test'] }, message({ from: 'boss@keep.test', subject: 'QUARANTINE-ME keep me' }));
  await waitUntil(async () => (await admin.get('/api/v1/quarantine')).json.items.length === PROMO + 1, 'every message held and indexed', 15_000, 50);
  const kept = (await admin.get('/api/v1/quarantine?sender=boss@keep.test')).json.items[0];

  // The API's checks: the field named, the role named.
  let r = await operator.post('/api/v1/quarantine/bulk', { action: 'release', search: { from: '2026-02-31' } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json.details.map((d: { field: string }) => d.field), ['body.search.from']);
  r = await operator.post('/api/v1/quarantine/bulk', { action: 'explode', search: {} });
  assert.equal(r.status, 400);
  assert.match(JSON.stringify(r.json.details), /body\.action/);
  r = await operator.post('/api/v1/quarantine/bulk', { action: 'spam', search: { sender: '@promo.test' } });
  assert.equal(r.status, 403, 'marking as spam needs an admin');
  assert.match(r.json.error, /admin/);
  r = await auditor.post('/api/v1/quarantine/bulk', { action: 'delete', search: { sender: '@promo.test' } });
  assert.equal(r.status, 403, 'an auditor changes nothing');
  assert.equal((await operator.get('/api/v1/quarantine/bulk/AAAAAAAAAAAA')).status, 404);
  assert.equal((await admin.get('/api/v1/quarantine')).json.items.length, PROMO + 1, 'nothing was touched by the refusals');

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${master.url}/#/quarantine`);
  await signIn(page, 'oscar', 'oscar-password-1');
  const rows = page.locator('[data-testid=quarantine] tbody tr[data-id]');
  await waitUntil(async () => (await rows.count()) === PROMO + 1, 'the held messages listed');
  assert.equal(await page.locator('[data-testid=bulk-all] button[data-action=spam]').count(), 0, 'an operator is not offered mark as spam');
  await page.fill('form.filters input[name=sender]', 'promo.test');
  await page.click('form.filters button[type=submit]');
  await waitUntil(async () => (await rows.count()) === PROMO, 'the search shows the promo messages only');

  await page.locator('[data-testid=bulk-all] button[data-action=release]').click();
  const job = page.locator('[data-testid=bulk-job]');
  await job.waitFor();
  await page.locator('[data-testid=bulk-job][data-state=done]').waitFor({ timeout: 30_000 });
  assert.equal(await job.locator('label').textContent(), `Released ${PROMO} of ${PROMO}.`);
  const bar = job.locator('progress');
  assert.equal(await bar.getAttribute('max'), String(PROMO));
  assert.equal(await bar.evaluate((p) => (p as unknown as { value: number }).value), PROMO, 'the progress reached the total');
  await waitUntil(async () => (await rows.count()) === 0, 'the list shows nothing held left for the search');
  await shot(page, 'quarantine-bulk-job');

  // Every promo message reached the downstream; the one outside the search is still held and not delivered.
  await waitUntil(() => downstream.received.filter((m) => /QUARANTINE-ME promo/.test(m.raw.toString())).length === PROMO, 'the released messages delivered', 15_000, 50);
  const after = (await admin.get(`/api/v1/quarantine/${kept.id}`)).json;
  assert.equal(after.status, 'held');
  assert.equal(downstream.received.some((m) => /keep me/.test(m.raw.toString())), false);
  assert.deepEqual((await admin.get('/api/v1/quarantine?status=released')).json.items.map((q: { subject: string }) => q.subject).sort(), Array.from({ length: PROMO }, (_, i) => `QUARANTINE-ME promo ${i + 1}`).sort());

  // Audited: each message released (with the job), the job's start and end with the search and counts.
  const entries = (await admin.get('/api/v1/audit?limit=50')).json.entries as Array<{ action: string; username: string; target: string; details: Record<string, unknown> }>;
  const done = entries.find((e) => e.action === 'quarantine.bulk.done')!;
  assert.ok(done, entries.map((e) => e.action).join(', '));
  assert.equal(done.username, 'oscar');
  assert.deepEqual({ ...done.details }, { action: 'release', search: { sender: 'promo.test', match: 'contains' }, total: PROMO, ok: PROMO, failed: 0 });
  const jobId = done.target.replace(/^job /, '');
  assert.equal(entries.filter((e) => e.action === 'quarantine.release' && e.details.bulk === jobId).length, PROMO);
  const status = (await auditor.get(`/api/v1/quarantine/bulk/${jobId}`)).json;
  assert.deepEqual({ state: status.state, total: status.total, done: status.done, ok: status.ok, failed: status.failed }, { state: 'done', total: PROMO, done: PROMO, ok: PROMO, failed: 0 });

  // A job over nothing held ends at once.
  const empty = await operator.post('/api/v1/quarantine/bulk', { action: 'delete', search: { sender: '@promo.test' } });
  assert.equal(empty.status, 202);
  assert.deepEqual({ state: empty.json.state, total: empty.json.total }, { state: 'done', total: 0 });

  // An admin's "mark as spam" over a search: one lesson per message, audited with the job; the message stays held.
  const spam = await admin.post('/api/v1/quarantine/bulk', { action: 'spam', search: { sender: 'boss@keep.test' } });
  assert.equal(spam.status, 202);
  assert.equal(spam.json.total, 1);
  let spamJob = spam.json;
  await waitUntil(async () => (spamJob = (await admin.get(`/api/v1/quarantine/bulk/${spam.json.id}`)).json).state === 'done', 'the spam job ended');
  assert.deepEqual({ ok: spamJob.ok, failed: spamJob.failed, failures: spamJob.failures }, { ok: 1, failed: 0, failures: [] });
  const lesson = (await admin.get('/api/v1/audit?action=learn.spam')).json.entries[0];
  assert.equal(lesson.target, `scanner-1/${kept.id}`);
  assert.equal(lesson.details.bulk, spam.json.id);
  assert.equal((await admin.get(`/api/v1/quarantine/${kept.id}`)).json.status, 'held');

  // The node holding a message is offline: the job ends, counts it failed and says why; the message stays held.
  await scanner.close();
  await waitUntil(async () => (await admin.get('/api/v1/nodes')).json.items[0].online === false, 'the scanner offline', 15_000, 50);
  await page.fill('form.filters input[name=sender]', 'keep.test');
  await page.click('form.filters button[type=submit]');
  await waitUntil(async () => (await rows.count()) === 1, 'the search shows the kept message');
  await page.locator('[data-testid=bulk-all] button[data-action=delete]').click();
  await page.locator('[data-testid=bulk-job][data-state=done]', { hasText: 'Deleted 0 of 1; 1 failed.' }).waitFor({ timeout: 30_000 });
  assert.match((await page.locator(`[data-testid=bulk-job-errors] li[data-id="${kept.id}"]`).textContent()) ?? '', /keep me.*\(scanner-1\): .*offline/);
  assert.equal((await admin.get(`/api/v1/quarantine/${kept.id}`)).json.status, 'held');
});
