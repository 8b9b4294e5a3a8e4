import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GTUBE } from '@moat/rules';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { freePortOutsideEphemeralRange } from '../helpers/ports.ts';
import { RSPAMD_SKIP, startRspamd, type Rspamd } from '../helpers/rspamd.ts';

const envelope = { from: 'sender@origin.test', to: ['user@example.test'] };
const queueId = (response: string) => /queued as (\S+)/.exec(response)![1]!;
function row(node: ScannerUnderTest, where: string) {
  return node.scanner.db.prepare(`SELECT action, status, score, reasons FROM messages WHERE ${where}`).get() as { action: string; status: string; score: number; reasons: string } | undefined;
}

describe('GTUBE without a spam engine', () => {
  test('the GTUBE string in the body is rejected with reason gtube by the built-in check', async () => {
    const downstream = await startDownstream();
    const node = await startTestScanner(downstream.port);
    try {
      const result = await sendMail(node.port, envelope, message({ subject: 'gtube plain', body: `This is the GTUBE:\r\n${GTUBE}\r\n` }));
      assert.equal(result.code, 550);
      assert.match(result.response, /^550 5\.7\.1 Message refused by content rule gtube/);
      const r = row(node, "subject = 'gtube plain'")!;
      assert.equal(r.status, 'rejected');
      assert.match(r.reasons, /"rule":"gtube"/);
      assert.equal(downstream.received.length, 0);
    } finally {
      await node.close();
      await downstream.close();
    }
  });
});

describe('Rspamd /checkv2 with a real rspamd', { skip: RSPAMD_SKIP, timeout: 120_000 }, () => {
  let rspamd: Rspamd;
  let downstream: Downstream;
  before(async () => {
    rspamd = await startRspamd();
    downstream = await startDownstream();
  });
  after(async () => {
    await downstream?.close();
    await rspamd?.stop();
  });

  test('its score is an extra score with its symbols; its `reject` maps to the configured action (GTUBE seen by Rspamd too)', async () => {
    const node = await startTestScanner(downstream.port, { overrides: { analyzers: { rspamd: { url: rspamd.url, scoreWeight: 0.5, actions: { reject: 'quarantine' } } } } });
    try {
      const before = downstream.received.length;
      const plain = await sendMail(node.port, envelope, message({ subject: 'rspamd plain' }));
      assert.match(plain.response, /^250 /);
      await downstream.waitFor(before + 1);
      const raw = downstream.received.at(-1)!.raw.toString();
      assert.match(raw, /^X-Moat-Spam-Scan: rspamd score=-?[\d.]+ required=[\d.]+ action=[a-z ]+\r\n/m);
      assert.match(row(node, `id = '${queueId(plain.response)}'`)!.reasons, /"rule":"rspamd","match":"[a-z ]+, score /);

      // Both see GTUBE: the built-in check rejects, and Rspamd's `reject` is recorded, mapped.
      const gtube = await sendMail(node.port, envelope, message({ subject: 'rspamd gtube', body: `${GTUBE}\r\n` }));
      assert.equal(gtube.code, 550, 'the built-in check still rejects');
      const r = row(node, "subject = 'rspamd gtube'")!;
      assert.match(r.reasons, /"rule":"gtube"/);
      assert.match(r.reasons, /"rule":"rspamd","match":"reject, score 15\/15 ×0\.5 \(model [^)]+\): GTUBE\(0\)","score":7\.5,"action":"quarantine"/);
    } finally {
      await node.close();
    }
  });
});

describe('Rspamd unreachable (nothing listens on its port; no rspamd needed)', () => {
  test('delivered with X-Moat-Spam-Scan: unavailable by default, 451 4.3.0 with temp-fail', async () => {
    const downstream = await startDownstream();
    const url = `http://127.0.0.1:${await freePortOutsideEphemeralRange()}`; // not handed to another bind(0) while the test runs
    const lenient = await startTestScanner(downstream.port, { overrides: { analyzers: { rspamd: { url, timeoutSeconds: 2 } } } });
    const strict = await startTestScanner(downstream.port, { overrides: { analyzers: { rspamd: { url, timeoutSeconds: 2, onUnavailable: 'temp-fail' } } } });
    try {
      const passed = await sendMail(lenient.port, envelope, message({ subject: 'rspamd down' }));
      assert.match(passed.response, /^250 /);
      await downstream.waitFor(1);
      assert.match(downstream.received.at(-1)!.raw.toString(), /^X-Moat-Spam-Scan: unavailable\r\n/m);
      assert.match(row(lenient, `id = '${queueId(passed.response)}'`)!.reasons, /rspamd\.unavailable/);
      const down = await sendMail(strict.port, envelope, message({ subject: 'rspamd down strict' }));
      assert.match(down.response, /^451 4\.3\.0 .*rspamd unavailable/);
    } finally {
      await lenient.close();
      await strict.close();
      await downstream.close();
    }
  });
});
