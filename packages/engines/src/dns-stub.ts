import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import * as packet from 'dns-packet';

export interface DnsStub {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:port`, as Rspamd's `dns.nameserver` and the scanner's `analyzers.dns.servers` take it. */
  readonly address: string;
  /** Queries answered so far (UDP and TCP). */
  answered(): number;
  stop(): Promise<void>;
}

const RD = 0x0100;
const RA = 0x0080;
const NXDOMAIN = 3;
const FORMERR = 1;
const NOTIMP = 4;

/**
 * The answer to one query: NXDOMAIN for every name (no such name, so an RBL or SURBL check ends
 * at once as "not listed"), NOTIMP for an opcode other than QUERY, FORMERR for a packet that does
 * not decode but has a header; undefined for less than a header (nothing to answer to).
 */
export function stubAnswer(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  let decoded: packet.DecodedPacket;
  try {
    decoded = packet.decode(query);
  } catch {
    const reply = Buffer.alloc(12);
    reply.writeUInt16BE(query.readUInt16BE(0), 0);
    reply.writeUInt16BE(0x8000 | RA | FORMERR, 2);
    return reply;
  }
  if (decoded.type === 'response') return undefined;
  const opcode = (query.readUInt16BE(2) >> 11) & 0xf; // 0: QUERY
  const rcode = opcode === 0 ? NXDOMAIN : NOTIMP;
  return packet.encode({ id: decoded.id ?? 0, type: 'response', flags: ((decoded.flags ?? 0) & RD) | RA | rcode, questions: decoded.questions ?? [] });
}

/**
 * A DNS server on 127.0.0.1 (UDP and TCP on the same port) that knows no name: every query gets
 * NXDOMAIN at once. The engines' DNS-based checks (Rspamd's RBLs, SURBL, SPF…) then give up in
 * well under a second on a machine without DNS to the Internet, instead of waiting out their
 * time-outs on every message, and no query about a message ever leaves the machine.
 */
export async function startDnsStub(): Promise<DnsStub> {
  let answered = 0;
  const answer = (query: Buffer) => {
    const reply = stubAnswer(query);
    if (reply) answered++;
    return reply;
  };
  // UDP first on a free port, then TCP on the same number; another process may hold that TCP
  // port, so a few tries.
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      const reply = answer(msg);
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => (udp.off('error', reject), resolve()));
    });
    const port = udp.address().port;
    const conns = new Set<TcpSocket>();
    const tcp = createServer((conn) => {
      conns.add(conn);
      conn.on('close', () => conns.delete(conn));
      let pending = Buffer.alloc(0);
      conn.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const reply = answer(pending.subarray(2, 2 + pending.readUInt16BE(0)));
          pending = pending.subarray(2 + pending.readUInt16BE(0));
          if (reply) conn.write(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]));
        }
      });
      conn.on('error', () => conn.destroy());
      conn.setTimeout(10_000, () => conn.destroy());
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => (tcp.off('error', reject), resolve()));
      });
    } catch (err) {
      await closeUdp(udp);
      if (attempt < 5 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
      throw err;
    }
    return {
      host: '127.0.0.1',
      port,
      address: `127.0.0.1:${port}`,
      answered: () => answered,
      async stop() {
        for (const c of conns) c.destroy();
        await Promise.all([closeUdp(udp), closeTcp(tcp)]);
      },
    };
  }
}

const closeUdp = (s: Socket) => new Promise<void>((resolve) => s.close(() => resolve()));
const closeTcp = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));
