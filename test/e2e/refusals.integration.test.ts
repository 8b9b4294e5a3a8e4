import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { validateRules } from '@moat/rules';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster, type ApiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

const FLOODER = '127.0.0.66';
const BURST = 5;
const RULES = validateRules({
  ...BASE_RULES,
  lists: { ...BASE_RULES.lists, ipBlock: [FLOODER] },
  greylisting: { enabled: true, delaySeconds: 300, expirySeconds: 600, passSeconds: 600, lookupTimeoutMs: 2000 },
});

interface Summary { nodeId: string; id: string; clientIp: string; mailFrom: string; action: string; status: string }

/** Connect from `localAddress`, read the greeting-time reply, close: one refused connection. */
function refusedConnection(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

async function refused(api: ApiClient): Promise<Summary[]> {
  const res = await api.get('/api/v1/messages?status=refused&limit=500');
  assert.equal(res.status, 200, res.text);
  return res.json.items as Summary[];
}

test('refusals at MAIL FROM, RCPT TO and connect reach the master\'s message tracking with reason and reply; a flood of 1,000 refused connections is a handful of rows that still count 1,000 in the reports', { timeout: 120_000 }, async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster({ seed: RULES });
  const api = await apiClient(`http://127.0.0.1:${master.port}`);
  const smtp = { refusalLog: { perIpBurst: BURST, windowSeconds: 3600 }, connectionRate: { count: 100_000, windowSeconds: 60 } };
  let scanner = await startClusterScanner('refusals-1', master.wsUrl, downstream.port, { smtp });
  const dataDir = scanner.dataDirPath;
  const since = Date.now() - 60_000;
  try {
    await waitUntil(() => scanner.link?.isConnected, 'scanner linked');

    // MAIL FROM refused (sender block list) and RCPT TO refused (relaying denied).
    const blocked = await sendMail(scanner.smtpPort, { from: 'spammer@blocked.example', to: ['user@example.test'] }, message());
    assert.equal(blocked.code, 550, blocked.response);
    const relay = await sendMail(scanner.smtpPort, { from: 'alice@origin.test', to: ['someone@elsewhere.test'] }, message());
    assert.equal(relay.code, 550, relay.response);
    // RCPT TO deferred by greylisting: a temporary refusal, logged like the others with its 451.
    const grey = await sendMail(scanner.smtpPort, { from: 'new@origin.test', to: ['user@example.test'] }, message());
    assert.equal(grey.code, 451, grey.response);

    await waitUntil(async () => (await refused(api)).length >= 3, 'three refusals on the master', 20_000);
    const rows = await refused(api);
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => r.action === 'reject' && r.status === 'refused' && /^[0-9A-Z]{20}$/.test(r.id)));
    assert.notEqual(rows[0]!.id, rows[1]!.id, 'a queue id per transaction');

    const detailOf = async (r: Summary) => (await api.get(`/api/v1/messages/${r.nodeId}/${r.id}`)).json;
    const mail = await detailOf(rows.find((r) => r.mailFrom === 'spammer@blocked.example')!);
    assert.equal(mail.refusal.stage, 'mail');
    assert.match(mail.refusal.reply, /^550 5\.7\.1 /);
    assert.equal(mail.refusal.count, 1);
    assert.deepEqual(mail.reasons.map((x: { rule: string }) => x.rule), ['senderBlock']);
    const rcpt = await detailOf(rows.find((r) => r.mailFrom === 'alice@origin.test')!);
    assert.equal(rcpt.refusal.stage, 'rcpt');
    assert.match(rcpt.refusal.reply, /^550 5\.7\.1 .*[Rr]elay/);
    assert.deepEqual(rcpt.rcptTo, ['someone@elsewhere.test']);
    assert.deepEqual(rcpt.reasons.map((x: { rule: string }) => x.rule), ['acceptedDomains']);
    const greylisted = await detailOf(rows.find((r) => r.mailFrom === 'new@origin.test')!);
    assert.equal(greylisted.refusal.stage, 'rcpt');
    assert.match(greylisted.refusal.reply, /^451 4\.7\.1 .*Greylisted/);
    assert.deepEqual(greylisted.reasons.map((x: { kind: string }) => x.kind), ['greylist']);

    // A flood: 1,000 connections from a blocked address, 25 at a time, each refused at connect.
    let sent = 0;
    await Promise.all(Array.from({ length: 25 }, async () => {
      while (sent < 1000) {
        sent++;
        const reply = await refusedConnection(scanner.smtpPort, FLOODER);
        assert.match(reply, /^554 5\.7\.1 /, reply);
      }
    }));
    // The aggregate of the window is written at shutdown at the latest; the restarted node sends it.
    await scanner.close();
    scanner = await startClusterScanner('refusals-1', master.wsUrl, downstream.port, { smtp, dataDir });
    const total = async () => {
      const flood = (await refused(api)).filter((r) => r.clientIp === FLOODER);
      const counts = await Promise.all(flood.map(async (r) => (await detailOf(r)).refusal.count as number));
      return { rows: flood.length, refusals: counts.reduce((a, b) => a + b, 0) };
    };
    await waitUntil(async () => (await total()).refusals === 1000, 'the flood\'s refusals all counted on the master', 30_000);
    const flood = await total();
    assert.equal(flood.rows, BURST + 1, `${BURST} logged one by one, then one aggregate`);

    const reject = (await api.get(`/api/v1/reports/traffic?bucket=day&from=${since}&to=${Date.now() + 60_000}`)).json.rows
      .reduce((n: number, r: { reject: number }) => n + r.reject, 0);
    assert.equal(reject, 1003, 'the traffic report counts every refused transaction');
    const top = (await api.get(`/api/v1/reports/top/blocked_sender?from=${since}`)).json.rows as { value: string; count: number }[];
    assert.deepEqual(top.map((r) => [r.value, r.count]), [['alice@origin.test', 1], ['new@origin.test', 1], ['spammer@blocked.example', 1]], 'connect refusals have no sender');
  } finally {
    await scanner.close();
    await master.close();
    await downstream.close();
  }
});
