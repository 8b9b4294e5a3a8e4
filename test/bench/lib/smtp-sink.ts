/**
 * Postfix's smtp-sink as the downstream the scanner relays to: a C server that accepts and
 * discards (no disk), so the relay leg costs the machine as little as possible. `-c` makes
 * it print running counters ("sess=N quit=N mesg=N\r") on stdout; `mesg` counts messages
 * whose final "." it has acknowledged, which is how the benchmark knows the scanner relayed
 * every message.
 */
import { freePort, requireExecutable, spawnManaged, waitForPort, makeTempDir, tailFile } from './proc.ts';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DeliveryCounter } from './target.ts';

export interface SmtpSink {
  port: number;
  received: DeliveryCounter;
  stop(): Promise<void>;
}

export async function startSmtpSink(keep = false): Promise<SmtpSink> {
  const bin = requireExecutable('smtp-sink', 'apt-get install -y postfix');
  const port = await freePort();
  const dir = makeTempDir('smtp-sink', keep);
  const errLog = join(dir.path, 'stderr.log');
  const errFd = openSync(errLog, 'a');
  const asRoot = process.getuid?.() === 0;
  const args = [...(asRoot ? ['-u', 'nobody'] : []), '-c', '-h', 'downstream.localhost', `127.0.0.1:${port}`, '1024'];
  const proc = spawnManaged('smtp-sink', bin, args, { stdio: ['ignore', 'pipe', errFd], cwd: dir.path });
  closeSync(errFd);
  const received = new DeliveryCounter();
  let partial = '';
  proc.child.stdout?.setEncoding('latin1').on('data', (chunk: string) => {
    const text = partial + chunk;
    const cut = text.lastIndexOf('\r');
    partial = cut < 0 ? text : text.slice(cut + 1);
    const done = cut < 0 ? '' : text.slice(0, cut);
    const m = /mesg=(\d+)\s*$/.exec(done);
    if (m?.[1]) received.set(Number(m[1]));
  });
  let stopping = false;
  void proc.exited.then((s) => {
    if (!stopping) received.failure = `smtp-sink exited (${s}): ${tailFile(errLog, 500).trim()}`;
  });
  await waitForPort(port, 10_000, 'smtp-sink', () => received.failure);
  return {
    port,
    received,
    async stop() {
      stopping = true;
      await proc.stop('SIGTERM', 5000);
      dir.remove();
    },
  };
}
