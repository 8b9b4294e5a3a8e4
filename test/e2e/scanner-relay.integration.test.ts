import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestScanner } from '../helpers/scanner-harness.ts';
import { readdirSync, readlinkSync } from 'node:fs';
import { RawSmtp, sendMail, message } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { freePortOutsideEphemeralRange } from '../helpers/ports.ts';


test('downstream down: mail queues, is retried, and arrives when downstream returns', async () => {
  // A port nothing listens on (outside the ephemeral range, so nothing else is given it while it
  // is closed): the scanner's first attempts hit a refused connection.
  const port = await freePortOutsideEphemeralRange();
  const node = await startTestScanner(port);
  try {
    const r = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'while down' }));
    assert.equal(r.ok, true, r.response);
    const id = /queued as (\w+)/.exec(r.response)![1]!;
    const attempts = () => (node.scanner.db.prepare('SELECT attempts FROM queue WHERE id = ?').get(id) as { attempts: number } | undefined)?.attempts ?? -1;
    const state = () => JSON.stringify(node.scanner.db.prepare('SELECT attempts, last_error, next_attempt_at FROM queue WHERE id = ?').get(id) ?? 'the message left the queue');
    await waitUntil(() => attempts() >= 2, 'two failed attempts', 15_000).catch((err: Error) => {
      throw new Error(`${err.message}; its queue row: ${state()}`);
    });
    const row = node.scanner.db.prepare('SELECT last_error FROM queue WHERE id = ?').get(id) as { last_error: string };
    assert.match(row.last_error, /ECONNREFUSED|connect/i);

    const downstream = await startDownstream({}, port);
    try {
      await downstream.waitFor(1, 15_000);
      assert.match(downstream.received[0]!.raw.toString(), /Subject: while down/);
      await waitUntil(() => attempts() === -1, 'the queue row to go', 5000);
      const status = node.scanner.db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string };
      assert.equal(status.status, 'delivered');
      const events = node.scanner.db.prepare("SELECT payload FROM outbox WHERE type = 'delivery.status' AND payload LIKE ?").all(`%${id}%`) as { payload: string }[];
      assert.ok(events.length >= 3, 'deferred attempts and the delivery are all reported');
    } finally {
      await downstream.close();
    }
  } finally {
    await node.close();
  }
});

test('a 5xx from downstream produces a DSN to the sender; a temp failure of one recipient is retried alone', async () => {
  let tempFailures = 2;
  const downstream = await startDownstream({
    rcpt: (address) => {
      if (address === 'nobody@example.test') return { code: 550, text: '5.1.1 No such user here' };
      if (address === 'busy@example.test' && tempFailures-- > 0) return { code: 451, text: '4.2.1 Mailbox busy' };
      return undefined;
    },
  });
  const node = await startTestScanner(downstream.port);
  try {
    const r = await sendMail(node.port, { from: 'alice@origin.test', to: ['user@example.test', 'nobody@example.test', 'busy@example.test'] }, message({ subject: 'three recipients' }));
    assert.equal(r.ok, true, r.response);
    // user@ gets the message, alice@ gets a DSN for nobody@, busy@ gets it on a retry.
    await downstream.waitFor(3, 15_000);
    const toUser = downstream.received.find((m) => m.to.includes('user@example.test'))!;
    assert.deepEqual(toUser.to, ['user@example.test']);
    const dsn = downstream.received.find((m) => m.to[0] === 'alice@origin.test')!;
    assert.ok(dsn, 'a DSN reached the sender');
    assert.equal(dsn.from, '', 'a DSN comes from the null sender');
    const text = dsn.raw.toString();
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(text, /Final-Recipient: rfc822; nobody@example\.test/);
    assert.match(text, /Status: 5\.1\.1/);
    assert.match(text, /Action: failed/);
    assert.match(text, /Subject: three recipients/, 'the original headers are attached');
    assert.doesNotMatch(text, /busy@example\.test/, 'a deferred recipient is not bounced');
    const retried = downstream.received.find((m) => m.to.includes('busy@example.test'))!;
    assert.deepEqual(retried.to, ['busy@example.test']);
    await waitUntil(() => (node.scanner.db.prepare('SELECT count(*) n FROM queue').get() as { n: number }).n === 0, 'an empty queue', 5000);
  } finally {
    await node.close();
    await downstream.close();
  }
});

test('a bounce of a message from the null sender makes no DSN', async () => {
  const downstream = await startDownstream({ data: () => ({ code: 554, text: '5.6.0 Content refused' }) });
  const node = await startTestScanner(downstream.port);
  try {
    const r = await sendMail(node.port, { from: '', to: ['user@example.test'] }, message());
    assert.equal(r.ok, true, r.response);
    const id = /queued as (\w+)/.exec(r.response)![1]!;
    await waitUntil(() => (node.scanner.db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string }).status === 'bounced', 'the bounce', 10_000);
    assert.equal((node.scanner.db.prepare('SELECT count(*) n FROM queue').get() as { n: number }).n, 0);
  } finally {
    await node.close();
    await downstream.close();
  }
});

test('past the maximum queue age a message bounces with 4.4.7', async () => {
  const port = await freePortOutsideEphemeralRange(); // down for the whole test (see the first test)
  const sink = await startDownstream();
  const node = await startTestScanner(port, {
    overrides: { relay: { host: '127.0.0.1', port, retryBaseSeconds: 0.2, retryMaxSeconds: 0.5, maxQueueAgeSeconds: 1, timeoutSeconds: 2 } },
  });
  try {
    const r = await sendMail(node.port, { from: 'alice@origin.test', to: ['user@example.test'] }, message());
    const id = /queued as (\w+)/.exec(r.response)![1]!;
    await waitUntil(() => (node.scanner.db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string }).status === 'bounced', 'expiry', 10_000);
    const dsn = node.scanner.db.prepare("SELECT rcpt_to, kind FROM queue WHERE kind = 'dsn'").get() as { rcpt_to: string; kind: string };
    assert.deepEqual(JSON.parse(dsn.rcpt_to), ['alice@origin.test']);
  } finally {
    await node.close();
    await sink.close();
  }
});

test('retries of a deferred message keep no descriptor of its file open', async () => {
  // Before the fix, each attempt refused at RCPT left the queue file's read stream open (the
  // failed send destroyed only the header rewriter piped from it): one descriptor per retry.
  const downstream = await startDownstream({ rcpt: () => ({ code: 451, text: '4.2.1 Try again later' }) });
  const node = await startTestScanner(downstream.port, {
    overrides: { relay: { host: '127.0.0.1', port: downstream.port, retryBaseSeconds: 0.05, retryMaxSeconds: 0.1, timeoutSeconds: 5 } },
  });
  try {
    // Larger than a read stream's buffer, so an unread file would stay paused, not drain and close.
    const r = await sendMail(node.port, { from: 'alice@origin.test', to: ['user@example.test'] }, message({ body: 'x'.repeat(200_000) }));
    assert.equal(r.ok, true, r.response);
    const attempts = () => (node.scanner.db.prepare('SELECT attempts FROM queue').get() as { attempts: number } | undefined)?.attempts ?? 0;
    await waitUntil(() => attempts() >= 20, '20 attempts', 20_000);
    const file = (node.scanner.db.prepare('SELECT file FROM queue').get() as { file: string }).file;
    const open = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).endsWith(`/queue/${file}`);
      } catch {
        return false; // closed meanwhile
      }
    });
    assert.ok(open.length <= 1, `${open.length} descriptors of the queue file open after ${attempts()} attempts (at most the one in flight)`);
  } finally {
    await node.close();
    await downstream.close();
  }
});

test('an envelope address that is not a mailbox is refused at MAIL FROM / RCPT TO, not queued', async () => {
  // `(?:@example.test` was answered 250, queued, and could never be relayed (found by the SMTP fuzzer).
  const downstream = await startDownstream();
  const node = await startTestScanner(downstream.port);
  try {
    const c = await RawSmtp.open(node.port);
    assert.match(await c.reply(), /^220 /);
    assert.match(await c.command('EHLO client.test'), /^250/);
    assert.match(await c.command('MAIL FROM:<a b@origin.test>'), /^501 5\.1\.7 /);
    assert.match(await c.command('MAIL FROM:<alice@origin.test>'), /^250 /);
    assert.match(await c.command('RCPT TO:<(?:@example.test>'), /^501 5\.1\.3 /);
    assert.match(await c.command('RCPT TO:<user@@example.test>'), /^501 5\.1\.3 /);
    assert.match(await c.command('RCPT TO:<"q,u"@example.test>'), /^250 /);
    // Postmaster is syntax (RFC 5321 §4.5.1); whether it is a local recipient is the rules' call.
    assert.doesNotMatch(await c.command('RCPT TO:<Postmaster>'), /^501 /);
    c.close();
    assert.equal((node.scanner.db.prepare('SELECT count(*) n FROM queue').get() as { n: number }).n, 0);
  } finally {
    await node.close();
    await downstream.close();
  }
});
