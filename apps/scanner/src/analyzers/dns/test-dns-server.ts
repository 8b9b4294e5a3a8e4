import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';

/** How the stand-in answers one question; `drop` never answers, `truncate` sets TC over UDP (the full answer over TCP). */
export interface Zone {
  readonly answers?: Answer[];
  readonly authorities?: Answer[];
  readonly rcode?: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  readonly drop?: boolean;
  readonly truncate?: boolean;
  /** Send an answer with a wrong id first (a spoofing attempt), then the real one. */
  readonly spoofFirst?: boolean;
}

const RCODES = { NOERROR: 0, NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 };

/**
 * A DNS server for unit tests on real loopback sockets (UDP and TCP on one port), answering
 * from a table the test controls (TTLs, rcodes, SOA, truncation) and counting the questions,
 * so cache behaviour can be proved on a fake clock. Unknown names: NXDOMAIN without SOA.
 */
export async function startTestDnsServer(zones: Record<string, Zone>): Promise<{ server: string; port: number; queries: Map<string, number>; close(): Promise<void> }> {
  const udp: Socket = createSocket('udp4');
  const queries = new Map<string, number>();
  const respond = (q: DecodedPacket, tcp: boolean): Buffer[] | undefined => {
    const question = q.questions![0]!;
    const key = `${question.type} ${question.name.toLowerCase()}`;
    queries.set(key, (queries.get(key) ?? 0) + 1);
    const zone = zones[key] ?? { rcode: 'NXDOMAIN' as const };
    if (zone.drop) return undefined;
    const base = { type: 'response' as const, questions: q.questions!, flags: packet.RECURSION_AVAILABLE | RCODES[zone.rcode ?? 'NOERROR'] };
    if (zone.truncate && !tcp) return [packet.encode({ ...base, id: q.id!, flags: base.flags | packet.TRUNCATED_RESPONSE, answers: [] })];
    const real = packet.encode({ ...base, id: q.id!, answers: zone.answers ?? [], authorities: zone.authorities ?? [] });
    return zone.spoofFirst && !tcp ? [packet.encode({ ...base, id: (q.id! + 1) % 65_536, answers: [{ type: 'A', name: question.name, ttl: 999, data: '6.6.6.6' }] }), real] : [real];
  };
  udp.on('message', (msg, from) => {
    const out = respond(packet.decode(msg), false);
    for (const b of out ?? []) udp.send(b, from.port, from.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
  const port = udp.address().port;
  const tcp: Server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const out = respond(packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))), true);
      for (const b of out ?? []) sock.write(Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]));
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', () => resolve()));
  return {
    server: `127.0.0.1:${port}`,
    port,
    queries,
    close: () => new Promise<void>((resolve) => {
      udp.close();
      tcp.close(() => resolve());
    }),
  };
}
