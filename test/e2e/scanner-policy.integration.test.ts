import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestScanner, BASE_RULES, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { sendMail, message, RawSmtp } from '../helpers/smtp-client.ts';
import { captureLog } from '../helpers/log-capture.ts';
import { waitUntil } from '../helpers/wait.ts';

let downstream: Downstream;
let node: ScannerUnderTest;
const logged = captureLog({ role: 'scanner' }, 'info');

before(async () => {
  downstream = await startDownstream();
  node = await startTestScanner(downstream.port, {
    rules: { ...BASE_RULES, lists: { ...BASE_RULES.lists, ipBlock: ['127.0.0.66/32', '2001:db8::/32'] } },
    overrides: { smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test', maxConnectionsPerIp: 3, connectionRate: { count: 1000, windowSeconds: 60 } } },
    log: logged.log,
  });
});
after(async () => {
  await node.close();
  await downstream.close();
});

function attachmentMessage(filename: string, contentType = 'application/octet-stream', content = 'MZ fake program'): string {
  return [
    'From: a@origin.test',
    'To: user@example.test',
    'Subject: see attached',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'see attachment',
    '--b1',
    `Content-Type: ${contentType}; name="${filename}"`,
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(content).toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');
}

test('the banner and EHLO carry the host name; SIZE is advertised', async () => {
  const s = await RawSmtp.open(node.port);
  assert.match(await s.reply(), /^220 scanner\.test /);
  const ehlo = await s.command('EHLO client.test');
  assert.match(ehlo, /^250-scanner\.test /);
  assert.match(ehlo, /^250[- ]SIZE 1048576$/m);
  assert.match(ehlo, /^250[- ]ENHANCEDSTATUSCODES$/m);
  assert.doesNotMatch(ehlo, /STARTTLS/, 'no STARTTLS without a certificate');
  assert.match(await s.command(`MAIL FROM:<a@origin.test> SIZE=${2 * 1024 * 1024}`), /^552 5\.3\.4 /);
  s.close();
});

test('a blocked client address is refused at connect with 554 5.7.1', async () => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: node.port, localAddress: '127.0.0.66', ignoreTLS: true });
  const err = await transport.sendMail({ envelope: { from: 'a@origin.test', to: ['user@example.test'] }, raw: message() }).then(() => undefined, (e: { responseCode?: number; response?: string }) => e);
  transport.close();
  assert.equal(err?.responseCode, 554);
  assert.match(err?.response ?? '', /^554 5\.7\.1 /);
});

test('an oversized message gets 552 5.3.4 and nothing is stored', async () => {
  const before = (node.scanner.db.prepare('SELECT count(*) n FROM queue').get() as { n: number }).n;
  const big = message({ body: ('z'.repeat(998) + '\r\n').repeat(1100) });
  const r = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, big);
  assert.equal(r.code, 552);
  assert.match(r.response, /^552 5\.3\.4 /);
  assert.equal((node.scanner.db.prepare('SELECT count(*) n FROM queue').get() as { n: number }).n, before);
});

test('too many recipients get 452 4.5.3', async () => {
  const s = await RawSmtp.open(node.port);
  await s.reply();
  await s.command('EHLO client.test');
  assert.match(await s.command('MAIL FROM:<a@origin.test>'), /^250 /);
  for (let i = 0; i < 5; i++) assert.match(await s.command(`RCPT TO:<u${i}@example.test>`), /^250 /);
  assert.match(await s.command('RCPT TO:<u6@example.test>'), /^452 4\.5\.3 /);
  s.close();
});

test('an .exe attachment is rejected, and so is a double extension', async () => {
  for (const name of ['setup.exe', 'invoice.pdf.exe', 'INVOICE.PDF.SCR']) {
    const r = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, attachmentMessage(name));
    assert.equal(r.code, 550, `${name}: ${r.response}`);
    assert.match(r.response, /^550 5\.7\.1 /);
  }
  // A PDF that is one: an executable named .pdf is refused by its content (attachments.detectedType, 91bc126).
  const ok = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, attachmentMessage('report.pdf', 'application/pdf', '%PDF-1.4\n%%EOF\n'));
  assert.equal(ok.ok, true, ok.response);
  const rejected = node.scanner.db.prepare("SELECT reasons FROM messages WHERE action = 'reject' AND reasons LIKE '%invoice.pdf.exe%'").all();
  assert.equal(rejected.length, 1, 'the reason names the file');
});

test('per-address concurrency limit answers 421 4.7.0', async () => {
  const open: RawSmtp[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await RawSmtp.open(node.port, { localAddress: '127.0.0.77' });
    assert.match(await s.reply(), /^220 /);
    open.push(s);
  }
  const fourth = await RawSmtp.open(node.port, { localAddress: '127.0.0.77' });
  assert.match(await fourth.reply(), /^421 4\.7\.0 /);
  fourth.close();
  for (const s of open) s.close();
});

test('a rules file with an error is refused naming the field; the old rules stay in force', async () => {
  node.writeRules({ ...BASE_RULES, version: 2, content: [{ id: 'bad', target: 'subject', regex: '(unclosed', action: 'reject' }] });
  // The file is polled: its refusal is the log line that says so, naming the bad field.
  await waitUntil(() => logged.events('RULES_REFUSED').length === 1, 'the bad rules file refused (RULES_REFUSED)');
  const [refused] = logged.events('RULES_REFUSED');
  assert.equal(refused!['keptVersion'], 1);
  assert.deepEqual((refused!['errors'] as { key: string }[]).map((e) => e.key), ['content.0.regex']);
  assert.equal(logged.events('RULES_LOADED', { version: 2 }).length, 0, 'version 2 never loaded');
  assert.equal(node.scanner.rules.current().version, 1);
  const r = await sendMail(node.port, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME' }));
  assert.equal(r.ok, true);
  assert.equal((node.scanner.db.prepare("SELECT action FROM messages WHERE id = ?").get(/queued as (\w+)/.exec(r.response)?.[1]) as { action: string }).action, 'quarantine');
  // a good change is picked up without dropping connections
  const s = await RawSmtp.open(node.port);
  await s.reply();
  node.writeRules({ ...BASE_RULES, version: 3, lists: { ...BASE_RULES.lists, senderBlock: ['*@newly-blocked.example'] } });
  await waitUntil(() => node.scanner.rules.current().version === 3, 'version 3 in force', 5000);
  assert.match(await s.command('EHLO client.test'), /^250[ -]/);
  assert.match(await s.command('MAIL FROM:<x@newly-blocked.example>'), /^550 5\.7\.1 /);
  s.close();
});
