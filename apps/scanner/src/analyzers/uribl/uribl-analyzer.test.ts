import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { linkDomains, readTexts, registrable } from './uribl-analyzer.ts';

describe('linkDomains', () => {
  it('finds http(s), www. and href links, lower-case, IDNA, distinct, in order; skips IP literals', () => {
    const text = 'see https://Evil.Example/x?y and http://a.b.example:8080/p, www.shop.example. or http://192.0.2.1/ and https://[2001:db8::1]/ and https://bücher.example/';
    const html = '<a href="//cdn.example/x">x</a> <a href=\'http://evil.example/again\'>y</a>';
    assert.deepEqual(linkDomains([text, html], 10), ['evil.example', 'a.b.example', 'www.shop.example', 'xn--bcher-kva.example', 'cdn.example']);
  });
  it('stops at max', () => assert.deepEqual(linkDomains(['http://a.example http://b.example http://c.example'], 2), ['a.example', 'b.example']));
});

describe('registrable', () => {
  const rows: [string, string][] = [['a.b.example.com', 'example.com'], ['www.shop.co.uk', 'shop.co.uk'], ['example.org', 'example.org'], ['x.example.de', 'example.de']];
  for (const [host, expected] of rows) it(host, () => assert.equal(registrable(host), expected));
});

describe('readTexts', () => {
  it('reads decoded text and HTML parts, not attachments, bounded', async () => {
    const mime = [
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('<a href="http://html.example/">x</a>').toString('base64'),
      '--b',
      'Content-Type: application/octet-stream; name=a.bin',
      'Content-Disposition: attachment; filename=a.bin',
      '',
      'http://attached.example/',
      '--b--',
      '',
    ].join('\r\n');
    const texts = await readTexts(Readable.from([mime]), 1000);
    assert.deepEqual(linkDomains(texts, 10), ['html.example']);
    const bounded = await readTexts(Readable.from([mime]), 10);
    assert.equal(bounded.join('').length, 10);
  });
});
