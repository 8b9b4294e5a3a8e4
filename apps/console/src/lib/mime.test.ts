import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from './mime.ts';

test('encoded words and RFC 2231 file names are decoded; text, HTML and attachments are found', async () => {
  const raw = [
    'From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@origin.test>',
    'To: user@example.test',
    'Subject: =?utf-8?b?w5xiZXJ3ZWlzdW5n?= =?utf-8?q?_f=C3=BCr_Sie?=',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=FC=DFe',
    '--b',
    "Content-Type: application/pdf; name*=utf-8''%C3%9Cberweisung.pdf",
    "Content-Disposition: attachment; filename*=utf-8''%C3%9Cberweisung.pdf",
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
    '--b--',
    '',
  ].join('\r\n');
  const msg = await parseMessage(raw);
  const header = (name: string) => msg.headers.find(([k]) => k.toLowerCase() === name)?.[1];
  assert.equal(header('from'), 'Jürgen Müller <juergen@origin.test>');
  assert.equal(header('subject'), 'Überweisung für Sie');
  assert.equal(msg.text?.trim(), 'Grüße');
  assert.deepEqual(msg.attachments, [{ filename: 'Überweisung.pdf', type: 'application/pdf', size: 9 }]);
});
