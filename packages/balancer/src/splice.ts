import type net from 'node:net';

/**
 * Relay the greeting, then bytes both ways. `pipe` gives backpressure; both sockets are
 * half-open capable, so a FIN from one side ends only that direction. An error or the idle
 * time-out (RFC 5321 wants ≥ 10 minutes) tears down both. `onDone` runs once, after both close.
 */
export function splice(client: net.Socket, upstream: net.Socket, greeting: Buffer, idleTimeoutMs: number, onDone: () => void): void {
  const kill = () => {
    client.destroy();
    upstream.destroy();
  };
  if (client.destroyed || upstream.destroyed) {
    kill();
    onDone();
    return;
  }
  let closed = 0;
  const onClose = (hadError: boolean) => {
    if (hadError) kill();
    if (++closed === 2) onDone();
  };
  for (const s of [client, upstream]) {
    s.setTimeout(idleTimeoutMs);
    s.on('timeout', kill);
    s.on('error', kill);
    s.on('close', onClose);
    s.setNoDelay(true);
  }
  client.write(greeting);
  upstream.pipe(client);
  client.pipe(upstream);
}
