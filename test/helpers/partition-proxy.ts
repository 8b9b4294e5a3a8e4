import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on loopback that can be partitioned: `partition()` makes it stop forwarding in
 * both directions without closing anything (no FIN, no RST: what a cut cable or a dropped
 * route looks like to both ends), and new connections are accepted but left hanging.
 * `heal()` forwards again: the connections cut off stay dead (both ends gave up on them), the
 * ones left hanging are connected through.
 */
export interface PartitionProxy {
  readonly port: number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startPartitionProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<PartitionProxy> {
  let partitioned = false;
  const live = new Set<Socket>();
  const cutOff = new Set<Socket>();
  const waiting = new Set<Socket>();

  const forward = (client: Socket) => {
    const upstream = createConnection({ host: targetHost, port: targetPort });
    live.add(client).add(upstream);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('data', (chunk) => {
        if (partitioned) cutOff.add(client).add(upstream); // dropped on the floor
        else to.write(chunk);
      });
      // During a partition an end's close never reaches the other end.
      from.on('end', () => !partitioned && to.end());
      from.on('close', () => {
        live.delete(from);
        if (!partitioned) to.destroy();
      });
      from.on('error', () => undefined);
    }
  };

  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (partitioned) {
      client.pause();
      waiting.add(client);
      client.on('close', () => waiting.delete(client));
      return;
    }
    forward(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    partition() {
      partitioned = true;
      for (const s of live) cutOff.add(s);
    },
    heal() {
      partitioned = false;
      for (const s of cutOff) s.destroy();
      cutOff.clear();
      for (const client of waiting) {
        waiting.delete(client);
        forward(client);
        client.resume();
      }
    },
    async close() {
      for (const s of [...live, ...cutOff, ...waiting]) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
