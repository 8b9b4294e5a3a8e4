import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import type { ReceivedMail } from '../helpers/downstream.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { consoleSkip as skip, shot, SHOTS } from '../helpers/console-browser.ts';
import { startConsoleCluster } from '../helpers/console-cluster.ts';

const DAY = 86_400_000;
const isReport = (m: ReceivedMail) => /^X-Moat-Report: 1\r$/m.test(m.raw.toString('latin1'));

/** The HTML part of a report, quoted-printable decoded. */
function htmlPart(mail: ReceivedMail): string {
  const raw = mail.raw.toString('latin1');
  const boundary = /boundary="([^"]+)"/.exec(raw)![1]!;
  const start = raw.indexOf('Content-Type: text/html');
  const body = raw.slice(raw.indexOf('\r\n\r\n', start) + 4, raw.indexOf(`\r\n--${boundary}`, start));
  return Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

/**
 * The console's Scheduled reports page in a real browser against a real master and scanner:
 * a bad recipient is shown beside its field naming the entry, a schedule saved, *Send now*
 * mails it through the scanner to a real SMTP server, a scheduled round shows as sent with its
 * queue id; the report's HTML, opened in the browser, loads nothing from anywhere.
 */
test('console: scheduled reports, a field error, save, send now, the rounds; the mail as a reader sees it', { skip, timeout: 120_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const { downstream, master, scanner, browser, api } = await startConsoleCluster(t);
  for (const [from, subject] of [['news@shop.example', 'hello'], ['news@shop.example', 'again'], ['deals@spam.example', 'QUARANTINE-ME']] as const) {
    assert.ok((await sendMail(scanner.smtpPort, { from, to: ['bob@example.test'] }, message({ subject }))).ok);
  }
  await waitUntil(async () => (await api.get('/api/v1/reports/traffic?bucket=day')).json.rows.reduce((a: number, r: { total: number }) => a + r.total, 0) === 3, 'three messages in the roll-ups');

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  await page.click('nav >> text=Scheduled reports');
  await page.getByText('No scheduled reports yet.').waitFor();
  await page.click('text=New scheduled report');
  await page.fill('#report-schedule-name', 'Daily mail report');
  await page.fill('#report-schedule-recipients', 'ops@example.test\nnot-an-address');
  await page.fill('#report-schedule-sendAt', '00:00');
  await page.click('[data-testid=schedule-form] button[type=submit]');
  const recipientsError = page.locator('[data-field-error=recipients]');
  await recipientsError.waitFor();
  assert.match(await recipientsError.textContent() ?? '', /^entry 2 \(not-an-address\): /);
  assert.equal(await page.getAttribute('#report-schedule-recipients', 'aria-invalid'), 'true');
  assert.deepEqual((await api.get('/api/v1/reports/schedules')).json.items, [], 'nothing stored');
  await shot(page, 'scheduled-reports-invalid');

  await page.fill('#report-schedule-recipients', 'ops@example.test\nboss@example.test');
  await page.click('[data-testid=schedule-form] button[type=submit]');
  await page.locator('[data-testid=notice]').filter({ hasText: 'saved' }).waitFor();
  const row = page.locator('tr[data-schedule="Daily mail report"]');
  assert.match(await row.textContent() ?? '', /daily at 00:00 UTC.*ops@example\.test, boss@example\.test.*none yet/s);

  // Send now: yesterday (no mail), queued on the scanner and relayed.
  await row.locator('text=Send now').click();
  await page.locator('[data-testid=notice]').filter({ hasText: 'queued for ops@example.test, boss@example.test' }).waitFor();
  await waitUntil(() => downstream.received.some(isReport), 'the report at the mail server');

  // The scheduled round at midnight (the master's check, run at that time), then the page shows it.
  const today = Date.now() - (Date.now() % DAY);
  assert.deepEqual(await master.reports.tick(today + DAY + 1000), { sent: 1, failed: 0 });
  await waitUntil(() => downstream.received.filter(isReport).length === 2, 'the scheduled report at the mail server');
  await page.reload();
  const rounds = page.locator('[data-testid=rounds] tbody tr');
  await rounds.first().waitFor();
  assert.equal(await rounds.count(), 1);
  assert.match(await rounds.first().textContent() ?? '', new RegExp(`${new Date(today).toISOString().slice(0, 10)}sent1.*[0-9A-Z]{20}`));
  await shot(page, 'scheduled-reports');

  // The mail itself, as a mail client shows it: every request it would make is counted (none).
  const scheduled = downstream.received.filter(isReport)[1]!;
  const reader = await browser.newPage({ viewport: { width: 900, height: 900 } });
  const requests: string[] = [];
  await reader.route('**/*', (route) => {
    requests.push(route.request().url());
    return route.abort();
  });
  await reader.setContent(htmlPart(scheduled));
  assert.deepEqual(requests, [], 'the report loads nothing');
  assert.match(await reader.textContent('body') ?? '', /All messages\s*3/);
  assert.match(await reader.textContent('body') ?? '', /news@shop\.example\s*2/);
  await shot(reader, 'scheduled-report-mail');
});
