import type net from 'node:net';
import type { IdleSweeper } from './idle-sweeper.ts';

/**
 * Relay the greeting, then bytes both ways with backpressure (a full writer pauses its
 * reader until 'drain'). Both sockets are half-open capable, so a FIN from one side ends only
 * that direction. An error or the idle time-out (RFC 5321 wants ≥ 10 minutes; see
 * idle-sweeper.ts) tears down both. `onDone` runs once, after both close.
 *
 * TCP_NODELAY is set at accept/connect (`noDelay`). Hand-written rather than `pipe()`: the hot path is one 'data' listener per direction and no
 * per-chunk timer (measured cheaper per connection than pipe + setTimeout).
 */
export function splice(client: net.Socket, upstream: net.Socket, greeting: Buffer, idle: IdleSweeper, onDone: () => void): void {
  const kill = () => {
    client.destroy();
    upstream.destroy();
  };
  if (client.destroyed || upstream.destroyed) {
    kill();
    onDone();
    return;
  }
  const session = idle.add(kill);
  let closed = 0;
  const onClose = (hadError: boolean) => {
    if (hadError) kill();
    if (++closed === 2) {
      idle.remove(session);
      onDone();
    }
  };
  const relay = (from: net.Socket, to: net.Socket) => {
    const resume = () => from.resume();
    from.on('data', (chunk: Buffer) => {
      session.active = true;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', resume);
      }
    });
    from.on('end', () => to.end());
    from.on('error', kill);
    from.on('close', onClose);
  };
  relay(upstream, client);
  relay(client, upstream);
  client.write(greeting);
  upstream.resume();
  client.resume();
}
