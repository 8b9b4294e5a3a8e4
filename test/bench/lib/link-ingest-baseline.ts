/**
 * The in-process baseline of the master link benchmark's ingest figure: the same events, in
 * the same batches, from the same number of nodes, stored by the master's own
 * `createIngest(db).ingestBatch` on a fresh master database of the engine under test (a SQLite
 * file, or a PostgreSQL database by URL; opened and migrated as the master opens it), with the
 * master's per-frame work around each call (decodeToMaster of the encoded events.batch frame
 * before, encodeFrame of the events.ack after) and no network or WebSocket in between. As over
 * the link, each node's batches go one after another and the nodes at once (on SQLite the
 * transactions take turns on its one connection; on PostgreSQL they run side by side on the
 * pool). The rate is events ÷ the run's wall time; CPU is this process's over the run.
 *
 * It also counts and times the SQL statements the ingest sends (lib/link-statement-profile.ts,
 * a Kysely plugin on the handle it is given): on PostgreSQL each is a round trip to the server,
 * plus BEGIN and COMMIT per batch.
 *
 * Its own process (started with an IPC channel by master-link-bench.ts), one run per process.
 */
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import { sql } from 'kysely';
import { MASTER_MIGRATIONS } from '@moat/master';
import { decodeToMaster, encodeFrame, newNodeKeyPair, type OutboxEvent } from '@moat/protocol';
import { createIngest } from '../../../apps/master/src/data/ingest.ts';
import { joinNode } from '../../../apps/master/src/cluster/node-registry.ts';
import { openMasterDatabase } from '../../../apps/master/src/db/database.ts';
import { serveRpc } from './ipc-rpc.ts';
import { epochMs, nodeBatches } from './sim-events.ts';
import { statementProfiler, type StatementKind } from './link-statement-profile.ts';

export interface BaselineSpec {
  /** For the SQLite file. */
  readonly dir: string;
  /** A fresh PostgreSQL database; SQLite without it. */
  readonly url?: string;
  readonly nodes: number;
  readonly batch: number;
  readonly warmupBatches: number;
  readonly batches: number;
}

export interface BaselineResult {
  readonly events: number;
  /** Wall time of the timed run. */
  readonly ms: number;
  /** CPU time of this process over the timed run. */
  readonly cpuMs: number;
  /** Each batch: decode, ingestBatch, encode of the ack. */
  readonly batchMs: number[];
  /** SQL statements the timed run sent (BEGIN and COMMIT not included). */
  readonly statements: number;
  /** The timed run's statements by kind, most time first. */
  readonly statementKinds: StatementKind[];
  readonly messages: number;
  readonly storedEvents: number;
  readonly rejected: number;
}

async function run(spec: BaselineSpec): Promise<BaselineResult> {
  const database = await openMasterDatabase(spec.url ? { engine: 'postgres', url: spec.url } : { engine: 'sqlite', path: join(spec.dir, 'master.sqlite') }, MASTER_MIGRATIONS);
  try {
    const ids: string[] = [];
    for (let i = 0; i < spec.nodes; i++) ids.push((await joinNode(database.db, `ingest-${String(i).padStart(2, '0')}`, newNodeKeyPair().publicKey, Date.now())).id);
    const profiler = statementProfiler();
    const ingest = createIngest(database.db.withPlugin(profiler), database.engine);
    let frameNo = 0;
    // Encoded frames (Buffers, off the JS heap), built before the clock runs: the process holds
    // no big object graph for the garbage collector to walk, like the master.
    const frames = (fromSeq: number, batches: number): Buffer[][] =>
      ids.map((_, n) => nodeBatches(n, fromSeq, batches, spec.batch).map((events) => Buffer.from(encodeFrame({ type: 'events.batch', id: `b${frameNo++}`, events }))));
    const go = async (perNode: Buffer[][]): Promise<{ ms: number; cpuMs: number; batchMs: number[]; statements: number; statementKinds: StatementKind[] }> => {
      const batchMs: number[] = [];
      profiler.reset();
      const c = cpuUsage();
      const t0 = epochMs();
      await Promise.all(perNode.map(async (list, n) => {
        for (const raw of list) {
          const s = epochMs();
          const frame = decodeToMaster(raw);
          if (frame.type !== 'events.batch') throw new Error(`decoded ${frame.type}`);
          const out = await ingest.ingestBatch(ids[n]!, frame.events);
          check(out, frame.events);
          encodeFrame({ type: 'events.ack', id: frame.id, upToSeq: out.upToSeq });
          batchMs.push(epochMs() - s);
        }
      }));
      const ms = epochMs() - t0;
      const d = cpuUsage(c);
      return { ms, cpuMs: (d.user + d.system) / 1000, batchMs, statements: profiler.count(), statementKinds: profiler.kinds() };
    };

    if (spec.warmupBatches > 0) {
      // The first node warms up alone, then the others: concurrent first batches on a fresh
      // PostgreSQL database race to create the log's day partitions (the benchmark's README).
      const warm = frames(1, spec.warmupBatches);
      await go(warm.map((list, n) => (n === 0 ? list : [])));
      await go(warm.map((list, n) => (n === 0 ? [] : list)));
    }
    const r = await go(frames(1 + spec.warmupBatches * spec.batch, spec.batches));
    const one = async (query: string): Promise<number> => Number((await sql.raw<{ n: number }>(query).execute(database.db)).rows[0]!.n);
    return {
      events: spec.nodes * spec.batches * spec.batch,
      ...r,
      messages: await one('SELECT count(*) AS n FROM messages'),
      storedEvents: await one('SELECT count(*) AS n FROM events'),
      rejected: await one('SELECT count(*) AS n FROM events WHERE rejected IS NOT NULL'),
    };
  } finally {
    await database.close();
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
