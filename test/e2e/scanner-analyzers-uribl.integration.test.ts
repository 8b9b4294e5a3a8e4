import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, startTestScanner } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { DNSMASQ_SKIP, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';

const envelope = { from: 'sender@origin.test', to: ['user@example.test'] };
const RULES = { ...BASE_RULES, scoring: { tag: 5, quarantine: 10, reject: 20 } };

describe('URIBL/DBL for link domains against a dnsmasq on loopback', { skip: DNSMASQ_SKIP }, () => {
  let dns: Dnsmasq;
  let downstream: Downstream;
  before(async () => {
    dns = await startDnsmasq({
      a: {
        'evil.example.dbl.test': '127.0.1.2', // the link's host itself
        'bad.example.dbl.test': '127.0.1.2', // a registrable domain, linked through a subdomain
        'bad.example.uribl.test': '127.0.0.2',
        'mine.example.dbl.test': '127.0.1.2', // listed, but in skipDomains
        'refused.example.dbl.test': '127.255.255.254', // "query refused": not a meaning we know
      },
    });
    downstream = await startDownstream();
  });
  after(async () => {
    await downstream?.close();
    await dns?.stop();
  });

  test('listed link domains in text and HTML score per zone; unknown codes, skipped and unlisted domains do not', async () => {
    const node = await startTestScanner(downstream.port, {
      rules: RULES,
      overrides: {
        analyzers: {
          dns: { servers: [dns.server] },
          uribl: {
            skipDomains: ['mine.example'],
            zones: [
              { zone: 'dbl.test', weight: 1, codes: { '127.0.1.2': { label: 'spam domain', weight: 6 } } },
              { zone: 'uribl.test', weight: 3 },
            ],
          },
        },
      },
    });
    try {
      const html = [
        'Content-Type: multipart/alternative; boundary=alt',
        '',
        '--alt',
        'Content-Type: text/plain',
        '',
        'Visit https://evil.example/win and www.clean.example and http://mine.example/ and http://refused.example/',
        '--alt',
        'Content-Type: text/html',
        '',
        '<p><a href="http://click.bad.example/track?id=1">here</a></p>',
        '--alt--',
        '',
      ].join('\r\n');
      const listed = await sendMail(node.port, envelope, message({ subject: 'uribl listed', headers: ['MIME-Version: 1.0'], body: '' }).replace('Content-Type: text/plain; charset=utf-8\r\n', '') + html);
      assert.match(listed.response, /^250 /);
      const row = node.scanner.db.prepare("SELECT status, score, reasons FROM messages WHERE subject = 'uribl listed'").get() as { status: string; score: number; reasons: string };
      assert.match(row.reasons, /"rule":"uribl\.dbl\.test","match":"evil\.example 127\.0\.1\.2 spam domain; bad\.example 127\.0\.1\.2 spam domain","score":6/);
      assert.match(row.reasons, /"rule":"uribl\.uribl\.test","match":"bad\.example 127\.0\.0\.2 listed","score":3/);
      assert.doesNotMatch(row.reasons, /mine\.example|refused\.example|clean\.example/);
      assert.equal(row.score, 9);
      assert.equal(row.status, 'queued'); // 9 reaches tag (5), below quarantine (10)

      const clean = await sendMail(node.port, envelope, message({ subject: 'uribl clean', body: 'see https://www.clean.example/' }));
      assert.match(clean.response, /^250 /);
      const c = node.scanner.db.prepare("SELECT reasons FROM messages WHERE subject = 'uribl clean'").get() as { reasons: string };
      assert.doesNotMatch(c.reasons, /uribl/);
    } finally {
      await node.close();
    }
  });
});
