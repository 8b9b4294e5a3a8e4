/**
 * The smallest OLE2 compound file (MS-CFB, version 3, 512-byte sectors) that carries a VBA
 * project the way an Office 97-2003 document does: a `VBA` storage with a `_VBA_PROJECT` stream,
 * a compressed `dir` stream (MS-OVBA) naming one module, `Module1`, and that module's compressed
 * source. clamd with `AlertOLE2Macros` reports it as `Heuristics.OLE2.ContainsMacros`. No Office
 * document with a macro ships in Debian (clamav-testfiles has none), so the test builds one.
 *
 * The streams are small, so they live in the mini stream (64-byte mini sectors, MS-CFB 2.6.3).
 */
const SECTOR = 512;
const MINI = 64;
const FREE = 0xffffffff;
const END_OF_CHAIN = 0xfffffffe;
const FAT_SECTOR = 0xfffffffd;
const NO_STREAM = 0xffffffff;

export function vbaMacroDocument(source = 'Sub AutoOpen()\r\n  MsgBox "hello"\r\nEnd Sub\r\n'): Buffer {
  const streams = [
    { name: '_VBA_PROJECT', data: Buffer.from([0xcc, 0x61, 0xff, 0xff, 0x00, 0x00, 0x00]) },
    { name: 'dir', data: compressVba(dirRecords('Module1')) },
    { name: 'Module1', data: compressVba(Buffer.from(`Attribute VB_Name = "Module1"\r\n${source}`, 'latin1')) },
  ];
  // The mini stream: each stream in whole mini sectors, chained in the mini FAT.
  const miniFat: number[] = [];
  const miniStarts: number[] = [];
  for (const s of streams) {
    const sectors = Math.ceil(s.data.length / MINI);
    miniStarts.push(miniFat.length);
    for (let i = 0; i < sectors; i++) miniFat.push(i === sectors - 1 ? END_OF_CHAIN : miniFat.length + 1);
  }
  if (miniFat.length > SECTOR / 4) throw new Error('vbaMacroDocument: more mini sectors than one mini FAT sector holds');
  const miniStream = Buffer.concat(streams.map((s) => padTo(s.data, Math.ceil(s.data.length / MINI) * MINI)));
  const miniStreamSectors = Math.ceil(miniStream.length / SECTOR);

  // Sectors: 0 the FAT, 1-2 the directory (five 128-byte entries), 3 the mini FAT, then the mini stream.
  const fat: number[] = [FAT_SECTOR, 2, END_OF_CHAIN, END_OF_CHAIN];
  for (let i = 0; i < miniStreamSectors; i++) fat.push(i === miniStreamSectors - 1 ? END_OF_CHAIN : fat.length + 1);
  const table = (values: number[]) => {
    const b = Buffer.alloc(SECTOR, 0xff);
    values.forEach((v, i) => b.writeUInt32LE(v, i * 4));
    return b;
  };

  // Directory: 0 root → 1 VBA storage → its streams in a (black) tree: names order by length, then by upper case.
  const dir = Buffer.alloc(2 * SECTOR);
  entry(dir, 0, { name: 'Root Entry', type: 5, child: 1, start: 4, size: miniStream.length });
  entry(dir, 1, { name: 'VBA', type: 1, child: 3, start: 0, size: 0 });
  // By name length: dir (3) < Module1 (7) < _VBA_PROJECT (12): Module1 in the middle.
  entry(dir, 2, { name: 'dir', type: 2, start: miniStarts[1]!, size: streams[1]!.data.length });
  entry(dir, 3, { name: 'Module1', type: 2, left: 2, right: 4, start: miniStarts[2]!, size: streams[2]!.data.length });
  entry(dir, 4, { name: '_VBA_PROJECT', type: 2, start: miniStarts[0]!, size: streams[0]!.data.length });
  for (let i = 5; i < 8; i++) entry(dir, i, { name: '', type: 0, start: 0, size: 0 }); // unused

  const header = Buffer.alloc(SECTOR, 0);
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(header, 0);
  header.writeUInt16LE(0x003e, 24); // minor version
  header.writeUInt16LE(0x0003, 26); // major version 3
  header.writeUInt16LE(0xfffe, 28); // little-endian
  header.writeUInt16LE(9, 30); // 512-byte sectors
  header.writeUInt16LE(6, 32); // 64-byte mini sectors
  header.writeUInt32LE(1, 44); // one FAT sector
  header.writeUInt32LE(1, 48); // the directory starts at sector 1
  header.writeUInt32LE(4096, 56); // mini stream cut-off
  header.writeUInt32LE(3, 60); // the mini FAT is sector 3
  header.writeUInt32LE(1, 64); // one mini FAT sector
  header.writeUInt32LE(END_OF_CHAIN, 68); // no DIFAT sectors
  for (let i = 0; i < 109; i++) header.writeUInt32LE(i === 0 ? 0 : FREE, 76 + i * 4);
  return Buffer.concat([header, table(fat), dir, table(miniFat), padTo(miniStream, miniStreamSectors * SECTOR)]);
}

function entry(dir: Buffer, index: number, e: { name: string; type: number; left?: number; right?: number; child?: number; start: number; size: number }): void {
  const at = index * 128;
  const name = e.name ? Buffer.from(`${e.name}\0`, 'utf16le') : Buffer.alloc(0);
  name.copy(dir, at);
  dir.writeUInt16LE(name.length, at + 64);
  dir.writeUInt8(e.type, at + 66);
  dir.writeUInt8(e.type ? 1 : 0, at + 67); // black
  dir.writeUInt32LE(e.left ?? NO_STREAM, at + 68);
  dir.writeUInt32LE(e.right ?? NO_STREAM, at + 72);
  dir.writeUInt32LE(e.child ?? NO_STREAM, at + 76);
  dir.writeUInt32LE(e.start, at + 116);
  dir.writeUInt32LE(e.size, at + 120);
}

/** The `dir` stream's records (MS-OVBA 2.3.4.2): project information, then one module. */
function dirRecords(moduleName: string): Buffer {
  const rec = (id: number, data: Buffer) => {
    const head = Buffer.alloc(6);
    head.writeUInt16LE(id, 0);
    head.writeUInt32LE(data.length, 2);
    return Buffer.concat([head, data]);
  };
  const u16 = (v: number) => Buffer.from([v & 0xff, v >> 8]);
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const name = Buffer.from(moduleName, 'latin1');
  const nameUnicode = Buffer.from(moduleName, 'utf16le');
  return Buffer.concat([
    rec(0x0001, u32(1)), // PROJECTSYSKIND: 32-bit Windows
    rec(0x0002, u32(0x409)), // PROJECTLCID
    rec(0x0014, u32(0x409)), // PROJECTLCIDINVOKE
    rec(0x0003, u16(1252)), // PROJECTCODEPAGE
    rec(0x0004, Buffer.from('VBAProject', 'latin1')), // PROJECTNAME
    rec(0x000f, u16(1)), // PROJECTMODULES: one
    rec(0x0013, u16(0xffff)), // PROJECTCOOKIE
    rec(0x0019, name), // MODULENAME
    rec(0x0047, nameUnicode), // MODULENAMEUNICODE
    rec(0x001a, name), // MODULESTREAMNAME
    Buffer.concat([u16(0x0032), u32(nameUnicode.length), nameUnicode]), // MODULESTREAMNAMEUNICODE
    rec(0x001c, Buffer.alloc(0)), // MODULEDOCSTRING
    Buffer.concat([u16(0x0048), u32(0)]), // MODULEDOCSTRINGUNICODE
    rec(0x0031, u32(0)), // MODULEOFFSET: the source starts at the stream's first byte
    rec(0x001e, u32(0)), // MODULEHELPCONTEXT
    rec(0x002c, u16(0xffff)), // MODULECOOKIE
    rec(0x0021, Buffer.alloc(0)), // MODULETYPE: procedural
    rec(0x002b, Buffer.alloc(0)), // module terminator
    rec(0x0010, Buffer.alloc(0)), // dir terminator
  ]);
}

/**
 * MS-OVBA compression (2.4.1) with literal tokens only: a signature byte, then one chunk, a flag
 * byte of 0 (eight literals follow) per eight bytes. Enough for the small streams here: one chunk
 * holds at most 4098 bytes, so the data must stay under 3640.
 */
function compressVba(data: Buffer): Buffer {
  const body: Buffer[] = [];
  for (let i = 0; i < data.length; i += 8) body.push(Buffer.from([0x00]), data.subarray(i, i + 8));
  const bytes = Buffer.concat(body);
  if (bytes.length + 2 > 4098) throw new Error('compressVba: more than one chunk');
  const header = Buffer.alloc(2);
  header.writeUInt16LE(0x8000 | 0x3000 | (bytes.length + 2 - 3), 0); // compressed, signature 0b011, size - 3
  return Buffer.concat([Buffer.from([0x01]), header, bytes]);
}

function padTo(data: Buffer, size: number): Buffer {
  return data.length >= size ? data : Buffer.concat([data, Buffer.alloc(size - data.length)]);
}
