import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { MAX_LEARN_BYTES } from '@moat/protocol';
import type { LearnDispatcher, LearnWaitOutcome } from './learn-dispatcher.ts';
import type { LearnEventRow, LearnInput, LearnMessage, LearnStore } from './learn-store.ts';

/** What teaching needs of the cluster hub (ClusterHub has it). */
export interface LearnHub {
  readonly learnStore: LearnStore;
  readonly learning: LearnDispatcher;
  learnRecorded(): void;
}

export interface Taught {
  readonly event: LearnEventRow;
  /** False: the message already was what it was taught to be (nothing new to apply). */
  readonly created: boolean;
  readonly outcome: LearnWaitOutcome;
}

/** Record a learn event, send it to the online scanners, and wait at most `waitMs` for all of them to apply it. */
export async function teach(hub: LearnHub, input: LearnInput, now: number, waitMs: number, log: Logger): Promise<Taught> {
  const { event, created } = await hub.learnStore.record(input, now);
  if (created) {
    log.info(
      { event: 'LEARN_RECORDED', seq: event.seq, class: event.class, unlearn: event.unlearn, digest: event.digest.slice(0, 16), size: event.size, source: event.source, actor: event.actor, nodeId: event.originNode, queueId: event.originMessage },
      event.unlearn ? `learn event recorded: ${event.unlearn} → ${event.class}` : `learn event recorded: ${event.class}`,
    );
    hub.learnRecorded();
  }
  const outcome = await hub.learning.waitApplied(event.seq, waitMs);
  return { event, created, outcome };
}

/** Read a message for learning: all of it is hashed, its first MAX_LEARN_BYTES kept. */
export async function readLearnMessage(stream: Readable): Promise<LearnMessage> {
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (keptBytes < MAX_LEARN_BYTES) {
      const part = chunk.subarray(0, MAX_LEARN_BYTES - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
  }
  return { head: Buffer.concat(kept), size, digest: hash.digest('hex') };
}
