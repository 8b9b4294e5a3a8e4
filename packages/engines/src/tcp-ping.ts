import { connect } from 'node:net';

/**
 * One request to a daemon on 127.0.0.1:`port` (its PING), and whether the reply it sends before
 * closing the connection is what `accept` expects; false when nothing listens, or no answer
 * comes within a second. For the readiness checks of the engines started here.
 */
export function tcpPing(port: number, request: string, accept: (reply: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    s.on('connect', () => s.write(request));
    s.on('data', (d) => (reply += d.toString()));
    s.on('close', () => resolve(accept(reply)));
    s.on('error', () => resolve(false));
    s.setTimeout(1000, () => s.destroy());
  });
}
