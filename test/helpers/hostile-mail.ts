/**
 * Hostile and malformed messages for robustness tests. Every builder returns the exact bytes
 * to send (CRLF line endings unless said otherwise), so a test can check what arrives.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const crlf = (lines: readonly string[]): string => lines.join('\r\n');

const TOP = ['From: sender@origin.test', 'To: user@example.test', 'MIME-Version: 1.0'];

/** Broken MIME that a lenient parser must survive: name → message. */
export function malformedMimeMessages(): Record<string, string> {
  return {
    'multipart without a boundary': crlf([
      ...TOP,
      'Subject: no boundary',
      'Content-Type: multipart/mixed',
      '',
      '--',
      'Content-Type: text/plain',
      '',
      'where does this part start?',
      '----',
      '',
    ]),
    'unterminated multipart': crlf([
      ...TOP,
      'Subject: unterminated',
      'Content-Type: multipart/mixed; boundary="open"',
      '',
      '--open',
      'Content-Type: text/plain',
      '',
      'first part',
      '--open',
      'Content-Type: application/octet-stream; name="cut.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      'AAECAwQFBgcICQ', // no closing delimiter, no final line break
    ]),
    'boundary that never appears': crlf([...TOP, 'Subject: lost boundary', 'Content-Type: multipart/alternative; boundary="nowhere"', '', 'just text', '--elsewhere--', '']),
    'garbage Content-Type parameters': crlf([
      ...TOP,
      'Subject: garbage params',
      'Content-Type: multipart/mixed; ;;; =; boundary=; boundary="b1"; charset=="\'; x*0*=\'\'%ZZ%; x*1="',
      '',
      '--b1',
      'Content-Type: text/plain; charset=x-no-such-charset; format=;;flowed=',
      '',
      'text in an unknown charset',
      '--b1',
      'Content-Type: /; name*0*=utf-8\'\'%FF%FE%; name*1="unterminated',
      'Content-Disposition: attachment; filename*=utf-8\'\'%E0%80%AF%; filename="a',
      '',
      'nameless data',
      '--b1--',
      '',
    ]),
    'broken base64 and quoted-printable': crlf([
      ...TOP,
      'Subject: =?utf-8?B?####?= =?no-such-charset?Q?=ZZ?= =?utf-8?X?x?=',
      'Content-Type: multipart/mixed; boundary="b2"',
      '',
      '--b2',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'broken =ZZ escapes =',
      '=',
      '--b2',
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      '@@@!!!***',
      'QUJD=RE=F',
      '====',
      'not base64 at all, not even close',
      '--b2--',
      '',
    ]),
    'header lines without a colon': crlf([
      ...TOP,
      'Subject: no colon',
      'This header line has no colon',
      ':',
      ': empty name',
      'Content-Type: multipart/mixed; boundary="b3"',
      '',
      '--b3',
      'Neither has this part header',
      'Content-Type: text/plain',
      '',
      'body',
      '--b3--',
      '',
    ]),
  };
}

/** A multipart/mixed containing a multipart/mixed … `depth` deep, with one text part inside. */
export function nestedMultipart(depth: number, subject = 'nested'): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(`Content-Type: multipart/mixed; boundary="n${i}"`, '', `--n${i}`);
    close.unshift(`--n${i}--`);
  }
  return crlf([...TOP, `Subject: ${subject}`, ...open, 'Content-Type: text/plain', '', 'the innermost text', ...close, '']);
}

/** One unfolded header line of `chars` characters (name included). */
export function hugeHeaderMessage(chars: number, subject = 'huge header'): string {
  const name = 'X-Huge: ';
  return crlf([...TOP, `Subject: ${subject}`, name + 'h'.repeat(chars - name.length), '', 'small body', '']);
}

/** Invalid UTF-8 and undeclared 8-bit data: name → bytes. */
export function invalidUtf8Messages(): Record<string, Buffer> {
  const bad = Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80]);
  const bytes = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
  return {
    'invalid UTF-8 in headers and a utf-8 body': bytes(
      'From: "', bad, '" <sender@origin.test>\r\nTo: user@example.test\r\nSubject: bad ', bad, ' bytes\r\n',
      'X-Raw: ', bad, '\r\n', bad, ': a header whose name is junk\r\n',
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      'body ', bad, '\r\n',
    ),
    '8-bit body without any Content-Type': bytes('From: sender@origin.test\r\nTo: user@example.test\r\nSubject: undeclared 8bit\r\n\r\n', 'caf\xe9 na\xefve \x80\x81\x9f\r\n', bad, '\r\n'),
    '8-bit text/plain without a charset': bytes(
      'From: sender@origin.test\r\nTo: user@example.test\r\nSubject: no charset\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n',
      '\xe9t\xe9 \xa0\xff\r\n',
    ),
    'encoded words that decode to invalid UTF-8': bytes(
      'From: sender@origin.test\r\nTo: user@example.test\r\nSubject: =?utf-8?Q?=FF=FE=C0=AF?= =?utf-8?B?', bad.toString('base64'), '?=\r\n\r\nbody\r\n',
    ),
  };
}

export interface GeneratedMessage {
  readonly stream: Readable;
  /** Size and SHA-256 of the bytes produced; resolves when the stream has been read to its end. */
  readonly produced: Promise<{ size: number; sha256: string }>;
}

/**
 * A message of about `totalBytes`, nearly all of it one base64 attachment of random bytes,
 * generated lazily in 64 KiB chunks: never held whole in memory.
 */
export function bigAttachmentMessage(totalBytes: number, subject = 'big attachment'): GeneratedMessage {
  const hash = createHash('sha256');
  let size = 0;
  let finish!: (v: { size: number; sha256: string }) => void;
  const produced = new Promise<{ size: number; sha256: string }>((resolve) => (finish = resolve));
  const LINES_PER_CHUNK = 840; // 840 × 78 bytes ≈ 64 KiB
  function* chunks(): Generator<Buffer> {
    yield Buffer.from(crlf([
      ...TOP,
      `Subject: ${subject}`,
      'Content-Type: multipart/mixed; boundary="big"',
      '',
      '--big',
      'Content-Type: text/plain',
      '',
      'see the attachment',
      '--big',
      'Content-Type: application/octet-stream; name="big.bin"',
      'Content-Disposition: attachment; filename="big.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      '',
    ]));
    let left = totalBytes;
    while (left > 0) {
      const b64 = randomBytes(57 * LINES_PER_CHUNK).toString('base64'); // 76 characters per 57 bytes
      const lines: string[] = [];
      for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
      const chunk = Buffer.from(lines.join('\r\n') + '\r\n');
      left -= chunk.length;
      yield chunk;
    }
    yield Buffer.from('--big--\r\n');
  }
  const stream = Readable.from(
    (function* () {
      for (const chunk of chunks()) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
      finish({ size, sha256: hash.digest('hex') });
    })(),
    { objectMode: false },
  );
  return { stream, produced };
}
