import net from 'node:net';
import { proxyV1 } from './proxy-header.ts';
import { parseReply } from './smtp-reply.ts';

/**
 * One active check. `smtp` follows HAProxy's smtpchk order: read a 2xx greeting, EHLO →
 * 2xx, QUIT. `tcp` passes on connect. Resolves null on success, else a reason code in
 * HAProxy's spirit: L4CON (refused), L4TOUT, L7TOUT, L7RSP (bad greeting), L7STS (bad EHLO).
 */
export interface ProbeOptions {
  readonly type: 'smtp' | 'tcp';
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly ehloName: string;
  /** Send a PROXY v1 line first (an upstream with PROXY on waits for it). */
  readonly sendProxy: boolean;
  readonly localAddress?: string | undefined;
}

export function probe(o: ProbeOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    let connected = false;
    let step: 'greeting' | 'ehlo' | 'quit' = 'greeting';
    let buf = Buffer.alloc(0);
    const finish = (reason: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => finish(connected ? 'L7TOUT' : 'L4TOUT'), o.timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connected ? 'L7RSP' : err.code === 'ECONNREFUSED' ? 'L4CON' : 'L4ERR'));
    socket.on('end', () => finish(step === 'quit' ? null : 'L7RSP'));
    socket.once('connect', () => {
      connected = true;
      if (o.type === 'tcp') return finish(null);
      if (o.sendProxy) socket.write(proxyV1(socket.localAddress ?? '', socket.remoteAddress ?? '', socket.localPort ?? 0, socket.remotePort ?? 0));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const reply = parseReply(buf);
      if (reply === null) return;
      const good = reply !== 'invalid' && reply.code >= 200 && reply.code <= 299;
      if (reply !== 'invalid') buf = buf.subarray(reply.length);
      if (step === 'greeting') {
        if (!good) return finish('L7RSP');
        step = 'ehlo';
        socket.write(`EHLO ${o.ehloName}\r\n`);
      } else if (step === 'ehlo') {
        if (!good) return finish('L7STS');
        step = 'quit';
        socket.write('QUIT\r\n');
      } else {
        finish(null);
      }
    });
  });
}
