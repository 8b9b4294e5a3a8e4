import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestScanner } from '../helpers/scanner-harness.ts';
import { RawSmtp, message } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { selfSignedCert } from '../helpers/tls-cert.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('STARTTLS with the configured certificate; mail over TLS is delivered', async () => {
  const { key, cert, cleanup } = selfSignedCert('scanner.test');
  const downstream = await startDownstream();
  const node = await startTestScanner(downstream.port, { overrides: { smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test', tls: { cert, key } } } });
  try {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: node.port, requireTLS: true, tls: { rejectUnauthorized: false } });
    const info = await transport.sendMail({ envelope: { from: 'a@origin.test', to: ['user@example.test'] }, raw: message({ subject: 'over tls' }) });
    transport.close();
    assert.match(info.response, /^250 /);
    await downstream.waitFor(1);
    assert.match(downstream.received[0]!.raw.toString(), /with ESMTPS id/);
  } finally {
    await node.close();
    await downstream.close();
    cleanup();
  }
});

test('PROXY v1 is accepted only from a trusted address, and the real client address is what rules see', async () => {
  const downstream = await startDownstream();
  const node = await startTestScanner(downstream.port, {
    rules: { version: 1, acceptedDomains: ['example.test'], lists: { ipBlock: ['203.0.113.9'] } },
    overrides: { smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test', trustedProxies: ['127.0.0.1'] } },
  });
  try {
    // From the trusted balancer: a blocked real client is refused by its real address.
    const blocked = await RawSmtp.open(node.port, { preface: 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 25\r\n' });
    assert.match(await blocked.reply(), /^554 5\.7\.1 /);
    blocked.close();
    const allowed = await RawSmtp.open(node.port, { preface: 'PROXY TCP4 198.51.100.7 127.0.0.1 40001 25\r\n' });
    assert.match(await allowed.reply(), /^220 /);
    await allowed.command('EHLO client.test');
    await allowed.command('MAIL FROM:<a@origin.test>');
    await allowed.command('RCPT TO:<user@example.test>');
    assert.match(await allowed.command('DATA'), /^354/);
    assert.match(await allowed.command(`${message({ subject: 'via proxy' })}.`), /^250 /);
    allowed.close();
    await downstream.waitFor(1);
    assert.match(downstream.received[0]!.raw.toString(), /\(\[198\.51\.100\.7\]\)/, 'the trace header names the real client');
    const row = node.scanner.db.prepare("SELECT client_ip FROM messages WHERE subject = 'via proxy'").get() as { client_ip: string };
    assert.equal(row.client_ip, '198.51.100.7');
    // From an untrusted address a PROXY line is just a bad command, not a new identity.
    const spoof = await RawSmtp.open(node.port, { localAddress: '127.0.0.2', preface: 'PROXY TCP4 198.51.100.8 127.0.0.1 40002 25\r\n' });
    const first = await spoof.reply();
    assert.doesNotMatch(first, /^220 .*198\.51\.100\.8/);
    spoof.close();
  } finally {
    await node.close();
    await downstream.close();
  }
});

test('a bad config file exits non-zero and names the bad key', () => {
  const tmp = tempDir('badconfig');
  const file = join(tmp.path, 'scanner.yaml');
  const cases: [string, RegExp][] = [
    ['node: { name: a }\ndataDir: /tmp/x\nrules: { file: r.yaml }\nsmtp: { listen: { prot: 25 } }\n', /smtp\.listen\.prot \(line 4, column 19\): unknown key/],
    ['node: { name: a }\ndataDir: /tmp/x\nrules: { file: r.yaml }\nsmtp: { listen: { port: "x" } }\n', /smtp\.listen\.port \(line 4, column 19\): /],
    ['node: { name: a }\nrules: { file: r.yaml }\n', /dataDir: required key is missing/],
    ['node: { name: a\n', /YAML syntax \(line \d+, column \d+\): /],
  ];
  try {
    for (const [yaml, expected] of cases) {
      require_write(file, yaml);
      const r = spawnSync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'scanner', '--config', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, expected);
    }
  } finally {
    tmp.cleanup();
  }
});

function require_write(file: string, text: string): void {
  execFileSync('tee', [file], { input: text, stdio: ['pipe', 'ignore', 'ignore'] });
}

test('two transactions pipelined in one write, QUIT included, are both answered and the session ends', async () => {
  // smtp-server's parser lost the continuation after the second `.` when our DATA reply came
  // late (it always does: analysis, fsync), so QUIT was never read and the session hung.
  const downstream = await startDownstream();
  const node = await startTestScanner(downstream.port);
  try {
    const c = await RawSmtp.open(node.port);
    assert.match(await c.reply(), /^220 /);
    const tx = (subject: string) => `MAIL FROM:<a@origin.test>\r\nRCPT TO:<user@example.test>\r\nDATA\r\nSubject: ${subject}\r\n\r\nbody\r\n.\r\n`;
    c.write(`EHLO client.test\r\n${tx('first')}${tx('second')}${tx('third')}QUIT\r\n`);
    const replies: string[] = [];
    for (let i = 0; i < 1 + 3 * 4 + 1; i++) replies.push(await c.reply(10_000));
    assert.deepEqual(replies.filter((r) => /^250 2\.0\.0 /.test(r)).length, 3, replies.join(' | '));
    assert.match(replies.at(-1)!, /^221 /);
    await downstream.waitFor(3);
    c.close();
  } finally {
    await node.close();
    await downstream.close();
  }
});
