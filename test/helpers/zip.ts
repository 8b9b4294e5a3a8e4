import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * A zip archive with stored (uncompressed) entries: enough for scanners that look inside zips.
 * With a password every entry is encrypted with traditional PKWARE encryption (ZipCrypto,
 * APPNOTE 6.1), as `zip -P` does: what clamd's `AlertEncrypted` reports.
 */
export function storedZip(entries: { name: string; data: Buffer }[], options: { password?: string } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const flags = options.password === undefined ? 0 : 1; // bit 0: encrypted
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = crc32(e.data);
    const body = options.password === undefined ? e.data : zipCrypto(e.data, crc, options.password);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(flags ? 20 : 10, 4); // version needed
    local.writeUInt16LE(flags, 6);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(flags ? 20 : 10, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** ZipCrypto: a 12-byte encryption header (its last byte the CRC's high byte) and the data, encrypted. */
function zipCrypto(data: Buffer, crc: number, password: string): Buffer {
  const keys = [0x12345678, 0x23456789, 0x34567890];
  const crcByte = (c: number, b: number) => (CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)) >>> 0;
  const update = (b: number) => {
    keys[0] = crcByte(keys[0]!, b);
    keys[1] = (Math.imul((keys[1]! + (keys[0]! & 0xff)) >>> 0, 134775813) + 1) >>> 0;
    keys[2] = crcByte(keys[2]!, keys[1]! >>> 24);
  };
  for (const b of Buffer.from(password, 'latin1')) update(b);
  const plain = Buffer.concat([randomBytes(11), Buffer.from([crc >>> 24]), data]);
  const out = Buffer.alloc(plain.length);
  for (let i = 0; i < plain.length; i++) {
    const t = (keys[2]! | 2) & 0xffff;
    out[i] = plain[i]! ^ ((Math.imul(t, t ^ 1) >>> 8) & 0xff);
    update(plain[i]!);
  }
  return out;
}

/** A multipart message with one base64 attachment. */
export function withAttachment(opts: { subject: string; filename: string; contentType: string; data: Buffer }): string {
  const b64 = opts.data.toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    'From: sender@origin.test',
    'To: user@example.test',
    `Subject: ${opts.subject}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See the attachment.',
    '--b1',
    `Content-Type: ${opts.contentType}; name="${opts.filename}"`,
    `Content-Disposition: attachment; filename="${opts.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    '--b1--',
    '',
  ].join('\r\n');
}
