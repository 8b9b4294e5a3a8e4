import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { connect, isIP } from 'node:net';
import * as packet from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';

export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** `192.0.2.53`, `127.0.0.1:5353`, `2001:db8::53`, `[::1]:53` (what `dns.getServers()` and the config use). */
export function parseServer(text: string): DnsServer {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2] ?? 53) };
  if (isIP(text) === 6) return { host: text, port: 53 };
  const [host = '', port] = text.split(':');
  return { host, port: Number(port ?? 53) };
}

/** A DNS error with node's codes (`ETIMEOUT`, `ECONNREFUSED`…), which mailauth maps to temperror. */
export function dnsError(code: string, type: string, name: string): Error & { code: string; hostname: string } {
  return Object.assign(new Error(`query${type[0]}${type.slice(1).toLowerCase()} ${code} ${name}`), { code, hostname: name });
}

/** EDNS0 with a payload size that avoids fragmentation (DNS flag day 2020); TCP when truncated anyway. */
const UDP_PAYLOAD = 1232;

/**
 * One question to one server: UDP first, TCP when the answer is truncated. The answer must come
 * from that server, echo our random id and our question; anything else is ignored (spoofing),
 * and `timeoutMs` bounds the whole exchange.
 */
export function exchange(server: DnsServer, name: string, type: string, timeoutMs: number): Promise<DecodedPacket> {
  const id = randomInt(65_536);
  const query: packet.Packet = {
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: type as RecordType, name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD } as packet.Answer],
  };
  const deadline = Date.now() + timeoutMs;
  const matches = (p: DecodedPacket) => p.id === id && p.questions?.[0]?.type === type && p.questions[0].name.toLowerCase() === name.toLowerCase().replace(/\.$/, '');
  return overUdp(server, query, matches, timeoutMs, type, name).then((p) => (p.flag_tc ? overTcp(server, query, matches, Math.max(1, deadline - Date.now()), type, name) : p));
}

function overUdp(server: DnsServer, query: packet.Packet, matches: (p: DecodedPacket) => boolean, timeoutMs: number, type: string, name: string): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    let finished = false;
    const done = (err: Error | undefined, p?: DecodedPacket) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(p!);
    };
    const timer = setTimeout(() => done(dnsError('ETIMEOUT', type, name)), timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => done(dnsError(err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ETIMEOUT', type, name)));
    socket.on('message', (msg, from) => {
      if (from.port !== server.port || !sameHost(from.address, server.host)) return;
      let p: DecodedPacket;
      try {
        p = packet.decode(msg);
      } catch {
        return; // not a DNS answer: keep waiting for the real one
      }
      if (p.type === 'response' && matches(p)) done(undefined, p);
    });
    socket.connect(server.port, server.host, () => socket.send(packet.encode(query)));
  });
}

function overTcp(server: DnsServer, query: packet.Packet, matches: (p: DecodedPacket) => boolean, timeoutMs: number, type: string, name: string): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    let finished = false;
    const done = (err: Error | undefined, p?: DecodedPacket) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(p!);
    };
    const timer = setTimeout(() => done(dnsError('ETIMEOUT', type, name)), timeoutMs);
    socket.on('error', () => done(dnsError('ECONNREFUSED', type, name)));
    socket.on('connect', () => socket.write(packet.streamEncode(query)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      try {
        const p = packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        done(matches(p) ? undefined : dnsError('EBADRESP', type, name), p);
      } catch {
        done(dnsError('EBADRESP', type, name));
      }
    });
    socket.on('end', () => done(dnsError('EBADRESP', type, name)));
  });
}

function sameHost(a: string, b: string): boolean {
  return a.replace(/^::ffff:/, '') === b.replace(/^::ffff:/, '');
}
