import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRules } from '@moat/rules';
import { startDownstream, type ReceivedMail } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';

const DAY = 86_400_000;

/** One MIME part of a report, quoted-printable decoded. */
function part(mail: ReceivedMail, type: string): string {
  const raw = mail.raw.toString('latin1');
  const boundary = /boundary="([^"]+)"/.exec(raw)![1]!;
  const start = raw.indexOf(`Content-Type: ${type}`);
  const body = raw.slice(raw.indexOf('\r\n\r\n', start) + 4, raw.indexOf(`\r\n--${boundary}`, start));
  const decoded = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(decoded, 'latin1').toString('utf8').replace(/\r\n/g, '\n');
}

const reports = (mails: readonly ReceivedMail[]) => mails.filter((m) => /^X-Moat-Report: 1\r$/m.test(m.raw.toString('latin1')));

test('scheduled reports: one mail per period with the figures of the mail that went through the cluster, not sent again after a restart; send now; admin only, bad input named', { timeout: 120_000 }, async () => {
  // The report covers whole UTC days: keep the test's mail inside one of them.
  const toMidnight = DAY - (Date.now() % DAY);
  if (toMidnight < 120_000) await sleep(toMidnight + 1000);
  const downstream = await startDownstream();
  const seed = validateRules({ ...BASE_RULES, acceptedDomains: ['example.test', 'other.test'] });
  let master = await startTestMaster({ seed });
  const scanner = await startClusterScanner('scanner-a', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { online: boolean }) => n.online), 'the scanner online');

    // Admin only, and bad input is a 400 naming the field; nothing stored.
    assert.equal((await fetch(`${master.url}/api/v1/reports/schedules`)).status, 401);
    assert.equal((await api.post('/api/v1/users', { username: 'op', password: 'operator-password-1', role: 'operator' })).status, 201);
    const operator = await apiClient(master.url, 'op', 'operator-password-1');
    const forbidden = await operator.get('/api/v1/reports/schedules');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.details.required, 'admin');
    const bad = await api.post('/api/v1/reports/schedules', { name: 'Daily', recipients: ['ops@example.test', 'not an address'], sendAt: '6am' });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.code, 'MOAT_ERR_REPORT_SCHEDULE_INVALID');
    assert.deepEqual(bad.json.details.map((d: { field: string }) => d.field).sort(), ['recipients.1', 'sendAt']);
    const empty = await api.post('/api/v1/reports/schedules', { name: 'Empty', recipients: ['ops@example.test'], traffic: false, quarantine: false, topLists: [] });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.details[0].field, 'topLists');
    assert.deepEqual((await api.get('/api/v1/reports/schedules')).json.items, []);

    const created = await api.post('/api/v1/reports/schedules', { name: 'Daily mail report', period: 'daily', sendAt: '00:00', recipients: ['ops@example.test', 'boss@example.test'], sender: 'reports@example.test', topLimit: 5 });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    assert.equal(created.json.schedule.topLists.length, 4, 'defaults filled in');
    assert.equal((await api.put(`/api/v1/reports/schedules/${id}`, { ...created.json.schedule, recipients: [] })).json.details[0].field, 'recipients');
    assert.equal((await api.get('/api/v1/reports/schedules/0123456789abcdef')).status, 404);

    // Mail through the scanner: three delivered, three quarantined (two domains), one refused at MAIL FROM.
    const sent = [
      await sendMail(scanner.smtpPort, { from: 'news@shop.example', to: ['bob@example.test'] }, message({ subject: 'hello 1' })),
      await sendMail(scanner.smtpPort, { from: 'news@shop.example', to: ['carol@example.test'] }, message({ subject: 'hello 2' })),
      await sendMail(scanner.smtpPort, { from: 'friend@pals.example', to: ['bob@example.test'] }, message({ subject: 'hello 3' })),
      await sendMail(scanner.smtpPort, { from: 'deals@spam.example', to: ['bob@example.test', 'carol@example.test'] }, message({ subject: 'QUARANTINE-ME 1' })),
      await sendMail(scanner.smtpPort, { from: 'deals@spam.example', to: ['dave@other.test'] }, message({ subject: 'QUARANTINE-ME 2' })),
      await sendMail(scanner.smtpPort, { from: 'deals@spam.example', to: ['erin@example.test'] }, message({ subject: 'QUARANTINE-ME 3' })),
    ];
    assert.ok(sent.every((r) => r.ok), JSON.stringify(sent));
    assert.equal((await sendMail(scanner.smtpPort, { from: 'x@blocked.example', to: ['bob@example.test'] }, message())).code, 550);
    await downstream.waitFor(3);
    await waitUntil(async () => (await api.get('/api/v1/reports/traffic?bucket=day')).json.rows.reduce((a: number, r: { total: number }) => a + r.total, 0) === 7, 'seven messages in the roll-ups', 20_000);
    await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.length === 3, 'three held messages indexed');
    const held = (await api.get('/api/v1/quarantine')).json.items as { id: string; subject: string }[];
    const release = held.find((h) => h.subject === 'QUARANTINE-ME 3')!;
    assert.equal((await operator.post(`/api/v1/quarantine/${release.id}/release`)).status, 200);
    await downstream.waitFor(4);

    // At midnight (UTC) the master's check sends the day's report: once. (Midnight, so that
    // the master's own timer, on the real clock, has no round due while the test runs.)
    const today = Date.now() - (Date.now() % DAY);
    const due = today + DAY;
    assert.equal((await api.get(`/api/v1/reports/schedules/${id}`)).json.nextRunAt, new Date(due).toISOString());
    assert.deepEqual(await master.reports.tick(due - 1), { sent: 0, failed: 0 }, 'not before midnight');
    assert.deepEqual(await master.reports.tick(due + 60_000), { sent: 1, failed: 0 });
    await downstream.waitFor(5);
    const [report] = reports(downstream.received);
    assert.ok(report, 'the report reached the mail server');
    assert.equal(report.from, 'reports@example.test');
    assert.deepEqual(report.to, ['ops@example.test', 'boss@example.test']);
    const day = new Date(today).toISOString().slice(0, 10);
    assert.match(report.raw.toString().replace(/\r\n[ \t]+/g, ' '), new RegExp(`^Subject: Daily mail report, ${day}: 7 messages, 3 quarantined, 1 rejected`, 'm'));
    const text = part(report, 'text/plain');
    assert.match(text, /^All messages +7$/m);
    assert.match(text, /^Delivered +3 \(42\.9%\)$/m);
    assert.match(text, /^Quarantined +3 \(42\.9%\)$/m);
    assert.match(text, /^Rejected +1 \(14\.3%\)$/m);
    assert.match(text, /^scanner-a +7 +3 +0 +3 +1 /m);
    assert.match(text, /^1 +deals@spam\.example +3$/m);
    assert.match(text, /^2 +news@shop\.example +2$/m);
    assert.match(text, /^1 +x@blocked\.example +1$/m, 'top blocked senders');
    assert.match(text, /^example\.test +2 +1 +1 +0$/m, 'example.test: two held messages (one to two of its users), one released since');
    assert.match(text, /^other\.test +1 +1 +0 +0$/m);
    const html = part(report, 'text/html');
    assert.match(html, /<td[^>]*>deals@spam\.example<\/td><td[^>]*>3<\/td>/);
    assert.doesNotMatch(html, /<img|src=|url\(/i, 'no remote images');

    const view = (await api.get(`/api/v1/reports/schedules/${id}`)).json;
    assert.equal(view.rounds.length, 1);
    assert.equal(view.rounds[0].status, 'sent');
    assert.equal(view.rounds[0].period.start, new Date(today).toISOString());
    const nodeId = (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'scanner-a').id;
    assert.equal(view.rounds[0].nodeId, nodeId);
    assert.match(view.rounds[0].queueId, /^[0-9A-Z]{20}$/);
    assert.deepEqual(await master.reports.tick(due + 120_000), { sent: 0, failed: 0 }, 'the period is sent');

    // A restarted master on the same database does not send that period again.
    const { dataDir, port } = master;
    await master.close();
    master = await startTestMaster({ dataDir, port, seed });
    const api2 = await apiClient(master.url);
    await waitUntil(async () => (await api2.get('/api/v1/nodes')).json.items.some((n: { online: boolean }) => n.online), 'the scanner back online');
    assert.deepEqual(await master.reports.tick(due + 180_000), { sent: 0, failed: 0 }, 'not sent twice after a restart');
    assert.equal((await api2.get(`/api/v1/reports/schedules/${id}`)).json.rounds.length, 1);
    assert.equal(reports(downstream.received).length, 1);

    // Send now: the last whole day that has ended (yesterday: no mail), audited; not a round.
    const now = await api2.post(`/api/v1/reports/schedules/${id}/send`);
    assert.equal(now.status, 200, now.text);
    assert.equal(now.json.period.end, new Date(today).toISOString());
    await downstream.waitFor(6);
    const test2 = reports(downstream.received)[1]!;
    assert.match(part(test2, 'text/plain'), /^All messages +0$/m);
    assert.equal((await api2.get(`/api/v1/reports/schedules/${id}`)).json.rounds.length, 1);
    const audit = await api2.get('/api/v1/audit?action=reports.send');
    assert.equal(audit.json.entries[0].details.queueId, now.json.queueId);
    assert.equal((await api2.get('/api/v1/audit?action=reports.schedule.create')).json.entries.length, 1);

    assert.equal((await api2.del(`/api/v1/reports/schedules/${id}`)).status, 204);
    assert.deepEqual((await api2.get('/api/v1/reports/schedules')).json.items, []);
  } finally {
    await scanner.close();
    await master.close();
    await downstream.close();
  }
});
