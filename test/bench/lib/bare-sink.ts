/** Starts bare-sink-server.ts in its own Node process (so its RSS is its own) as a Target. */
import { fileURLToPath } from 'node:url';
import { freePort, spawnManaged, withTimeout } from './proc.ts';
import { RssMonitor } from './rss.ts';
import { treeCpuMs } from './proc-cpu.ts';
import { DeliveryCounter, type Target } from './target.ts';

const script = fileURLToPath(new URL('./bare-sink-server.ts', import.meta.url));

export async function startBareSink(): Promise<Target> {
  const port = await freePort();
  const proc = spawnManaged('bare smtp-server sink', process.execPath, [script, String(port)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const child = proc.child;
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.on('message', (m: { ready?: number }) => {
        if (m.ready) resolve();
      });
      void proc.exited.then((s) => reject(new Error(`bare sink exited during start (${s})`)));
    }),
    20_000,
    'bare smtp-server sink to start',
  );
  const ask = (): Promise<number> =>
    withTimeout(
      new Promise<number>((resolve, reject) => {
        if (proc.exitStatus() !== undefined) return reject(new Error(`bare sink exited (${proc.exitStatus()})`));
        const onMsg = (m: { count?: number }): void => {
          if (typeof m.count === 'number') {
            child.off('message', onMsg);
            resolve(m.count);
          }
        };
        child.on('message', onMsg);
        child.send({ type: 'count' });
      }),
      5000,
      'bare sink count',
    );
  const monitor = new RssMonitor(proc.pid);
  return {
    name: 'bare smtp-server sink',
    port,
    delivered: new DeliveryCounter(ask, 25),
    deliveredHow: 'messages whose DATA the sink read to the end',
    rss: () => monitor.finish(),
    cpuMs: () => treeCpuMs(proc.pid),
    async stop() {
      await proc.stop('SIGTERM', 5000);
    },
  };
}
