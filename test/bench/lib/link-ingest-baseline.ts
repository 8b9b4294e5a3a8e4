/**
 * The in-process baseline of the master link benchmark's ingest figure: the same events, in
 * the same batches, interleaved across the same nodes, stored by the master's own
 * `createIngest(db).ingestBatch` on a fresh master database (openDatabase + MASTER_MIGRATIONS,
 * as startMaster opens it), with no network and no event loop in between. Mode `direct` times
 * the ingestBatch calls only (each batch's JSON.parse before its call is not timed). Mode
 * `decoded` also times the master's per-frame work: decodeToMaster (JSON.parse + schema check)
 * of the encoded events.batch frame before, and encodeFrame of the events.ack after. The rate
 * is events ÷ the sum of the timed steps; CPU is this process's over the same steps.
 *
 * Its own process (started with an IPC channel by master-link-bench.ts), one run per process.
 */
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import { openDatabase } from '@moat/storage';
import { MASTER_MIGRATIONS } from '@moat/master';
import { decodeToMaster, encodeFrame, newNodeKeyPair, type EventsBatch, type OutboxEvent } from '@moat/protocol';
import { createIngest } from '../../../apps/master/src/data/ingest.ts';
import { joinNode } from '../../../apps/master/src/cluster/node-registry.ts';
import { sqliteDatabase } from '../../../apps/master/src/db/database.ts';
import { serveRpc } from './ipc-rpc.ts';
import { epochMs, nodeBatches } from './sim-events.ts';

export interface BaselineSpec {
  readonly dir: string;
  readonly mode: 'direct' | 'decoded';
  readonly nodes: number;
  readonly batch: number;
  readonly warmupBatches: number;
  readonly batches: number;
}

export interface BaselineResult {
  readonly events: number;
  /** Sum of the timed steps, one per batch. */
  readonly ms: number;
  /** CPU time of this process over the timed steps. */
  readonly cpuMs: number;
  readonly batchMs: number[];
  readonly messages: number;
  readonly storedEvents: number;
  readonly rejected: number;
}

/** Round-robin over the nodes, batch by batch: several scanners draining at once. */
function interleave<T>(perNode: T[][]): [number, T][] {
  const out: [number, T][] = [];
  const longest = Math.max(...perNode.map((b) => b.length));
  for (let i = 0; i < longest; i++) perNode.forEach((list, n) => i < list.length && out.push([n, list[i]!]));
  return out;
}

async function run(spec: BaselineSpec): Promise<BaselineResult> {
  const db = openDatabase(join(spec.dir, 'master.sqlite'), MASTER_MIGRATIONS);
  try {
    const q = sqliteDatabase(db).db;
    const ids: string[] = [];
    for (let i = 0; i < spec.nodes; i++) ids.push((await joinNode(q, `ingest-${String(i).padStart(2, '0')}`, newNodeKeyPair().publicKey, Date.now())).id);
    const ingest = createIngest(q, 'sqlite');
    let frameNo = 0;
    // Encoded frames (Buffers, off the JS heap), built before the clock runs: the process holds
    // no big object graph for the garbage collector to walk, like the master.
    const frames = (fromSeq: number, batches: number): [number, Buffer][] =>
      interleave(ids.map((_, n) => nodeBatches(n, fromSeq, batches, spec.batch))).map(([n, events]) => [
        n,
        Buffer.from(encodeFrame({ type: 'events.batch', id: `b${frameNo++}`, events })),
      ]);
    const go = async (list: [number, Buffer][]): Promise<{ ms: number; cpuMs: number; batchMs: number[] }> => {
      const batchMs: number[] = [];
      let cpuUs = 0;
      for (const [n, raw] of list) {
        if (spec.mode === 'direct') {
          // Not timed: the parse (the master gets these objects from decodeToMaster).
          const events = (JSON.parse(raw.toString('utf8')) as EventsBatch).events;
          const c = cpuUsage();
          const s = epochMs();
          check(await ingest.ingestBatch(ids[n]!, events), events);
          batchMs.push(epochMs() - s);
          const d = cpuUsage(c);
          cpuUs += d.user + d.system;
        } else {
          const c = cpuUsage();
          const s = epochMs();
          const frame = decodeToMaster(raw);
          if (frame.type !== 'events.batch') throw new Error(`decoded ${frame.type}`);
          const out = await ingest.ingestBatch(ids[n]!, frame.events);
          check(out, frame.events);
          encodeFrame({ type: 'events.ack', id: frame.id, upToSeq: out.upToSeq });
          batchMs.push(epochMs() - s);
          const d = cpuUsage(c);
          cpuUs += d.user + d.system;
        }
      }
      return { ms: batchMs.reduce((a, b) => a + b, 0), cpuMs: cpuUs / 1000, batchMs };
    };

    if (spec.warmupBatches > 0) await go(frames(1, spec.warmupBatches));
    const r = await go(frames(1 + spec.warmupBatches * spec.batch, spec.batches));
    const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return {
      events: spec.nodes * spec.batches * spec.batch,
      ...r,
      messages: one('SELECT count(*) AS n FROM messages'),
      storedEvents: one('SELECT count(*) AS n FROM events'),
      rejected: one('SELECT count(*) AS n FROM events WHERE rejected IS NOT NULL'),
    };
  } finally {
    db.close();
  }
}

function check(out: { upToSeq: number; stored: number; rejected: unknown[] }, events: readonly OutboxEvent[]): void {
  const last = events[events.length - 1]!.seq;
  if (out.upToSeq !== last || out.stored !== events.length || out.rejected.length > 0) {
    throw new Error(`ingestBatch stored ${out.stored}/${events.length}, upToSeq ${out.upToSeq} (expected ${last}), rejected ${JSON.stringify(out.rejected.slice(0, 2))}`);
  }
}

serveRpc({
  run: (spec: BaselineSpec) => run(spec),
  stop: () => {
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
