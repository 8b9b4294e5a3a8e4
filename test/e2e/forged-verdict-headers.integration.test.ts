import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream, type ReceivedMail } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, type ApiClient } from '../helpers/cluster-harness.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

/** What a sender writes to pass for a filter's verdict, ours included. */
const FORGED = ['X-Spam-Flag: NO', 'X-Spam-Status: No, score=-100.0 required=5.0', 'X-Moat-Verdict: deliver', 'X-Moat-Score: -100.0'];

const queueIdOf = (response: string) => /queued as (\w+)/.exec(response)![1]!;
const fieldLines = (raw: string, name: string) => raw.split('\r\n\r\n')[0]!.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));

/** The forged fields arrive renamed, none under its own name; ours are there once, untouched. */
function assertGuarded(mail: ReceivedMail, ourVerdict: RegExp): void {
  const raw = mail.raw.toString('latin1');
  assert.deepEqual(fieldLines(raw, 'X-Spam-Flag'), [], 'no X-Spam-Flag reaches downstream under its own name');
  assert.deepEqual(fieldLines(raw, 'X-Spam-Status'), []);
  assert.deepEqual(fieldLines(raw, 'X-Moat-Untrusted-Spam-Flag'), ['X-Moat-Untrusted-Spam-Flag: NO']);
  assert.deepEqual(fieldLines(raw, 'X-Moat-Untrusted-Spam-Status'), ['X-Moat-Untrusted-Spam-Status: No, score=-100.0 required=5.0']);
  assert.deepEqual(fieldLines(raw, 'X-Moat-Untrusted-Moat-Verdict'), ['X-Moat-Untrusted-Moat-Verdict: deliver']);
  assert.deepEqual(fieldLines(raw, 'X-Moat-Untrusted-Moat-Score'), ['X-Moat-Untrusted-Moat-Score: -100.0']);
  const verdicts = fieldLines(raw, 'X-Moat-Verdict');
  assert.equal(verdicts.length, 1, `one X-Moat-Verdict, ours: ${verdicts.join(' | ')}`);
  assert.match(verdicts[0]!, ourVerdict);
  assert.deepEqual(fieldLines(raw, 'X-Moat-Node'), ['X-Moat-Node: guard']);
  assert.ok(raw.indexOf('X-Moat-Verdict:') < raw.indexOf('X-Moat-Untrusted-Spam-Flag:'), 'ours are prepended above what was received');
}

test('forged verdict headers: renamed on delivery, on re-delivery of the retained copy and on release from quarantine; ours intact', async (t) => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const scanner = await startClusterScanner('guard', master.wsUrl, downstream.port);
  t.after(async () => {
    await scanner.close();
    await master.close();
    await downstream.close();
  });
  const api: ApiClient = await apiClient(master.url);
  let nodeId: string | undefined;
  await waitUntil(async () => (nodeId = (await api.get('/api/v1/nodes')).json.items.find((n: { name: string; online: boolean }) => n.name === 'guard' && n.online)?.id), 'the scanner online');
  const arrived = (subject: string) => downstream.received.filter((m) => m.raw.toString('latin1').includes(`Subject: ${subject}`) || m.raw.toString('latin1').includes(`] ${subject}`));

  await t.test('delivered mail: the forged X-Spam-Flag: NO and X-Moat-Verdict: deliver arrive renamed, our tag verdict stands', async () => {
    const sent = await sendMail(scanner.smtpPort, { from: 'spammer@origin.test', to: ['user@example.test'] }, message({ subject: 'TAG-ME forged', headers: FORGED }));
    assert.ok(sent.ok, sent.response);
    await waitUntil(() => arrived('TAG-ME forged').length === 1, 'the tagged message downstream');
    assertGuarded(arrived('TAG-ME forged')[0]!, /^X-Moat-Verdict: tag$/);

    // The retained copy is as it arrived; re-delivering it renames again, our headers stay ours.
    const id = queueIdOf(sent.response);
    await waitUntil(async () => (await api.get(`/api/v1/messages/${nodeId}/${id}`)).json?.retained?.status === 'kept', 'the retained copy on the master');
    const raw = await api.get(`/api/v1/messages/${nodeId}/${id}/raw`);
    assert.match(raw.text, /^X-Moat-Verdict: deliver\r$/m, 'the stored copy stays as received');
    const again = await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`);
    assert.equal(again.status, 200, again.text);
    await waitUntil(() => arrived('TAG-ME forged').length === 2, 'the re-delivery downstream');
    const second = arrived('TAG-ME forged')[1]!;
    assertGuarded(second, /^X-Moat-Verdict: tag$/);
    assert.equal(fieldLines(second.raw.toString('latin1'), 'X-Moat-Redelivered').length, 1, 'the re-delivery trace is ours and kept');
  });

  await t.test('a quarantined message released by the admin: the forged fields are renamed, our release verdict stands', async () => {
    const sent = await sendMail(scanner.smtpPort, { from: 'spammer@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME forged', headers: FORGED }));
    assert.ok(sent.ok, sent.response);
    const id = queueIdOf(sent.response);
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${id}`)).status === 200, 'the quarantine index on the master');
    const released = await api.post(`/api/v1/quarantine/${id}/release`);
    assert.equal(released.status, 200, released.text);
    await waitUntil(() => arrived('QUARANTINE-ME forged').length === 1, 'the released message downstream');
    assertGuarded(arrived('QUARANTINE-ME forged')[0]!, /^X-Moat-Verdict: quarantine \(released .+\)$/);
  });
});
