import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { noteStreamedBytes } from '../memory/buffer-garbage.ts';
import { pipeInto } from '../streams/pipe-into.ts';

/**
 * Stream DATA into a spool file and fsync it before resolving: the message is never held whole
 * in memory, and once this returns the bytes are on disk (`flush: true` fsyncs before close).
 */
export async function receiveToSpool(data: Readable, path: string): Promise<{ size: number }> {
  let size = 0;
  data.on('data', (chunk: Buffer) => {
    size += chunk.length;
    noteStreamedBytes(chunk.length);
  });
  await pipeInto(data, createWriteStream(path, { flags: 'wx', mode: 0o600, flush: true }));
  return { size };
}
