/**
 * The timed part of the ingest: events as a scanner's outbox sends them (each message's log
 * entry, its quarantine entry if any, a delivery status for most delivered ones), in batches
 * per node, through the real ingestBatch. Then a re-send of some batches (a lost ack), which
 * must store nothing.
 */
import type { OutboxEvent } from '@moat/protocol';
import type { Ingest } from '../../apps/master/src/data/ingest.ts';
import { benchId, mailMaker, rng } from './master-data-generate.ts';
import { percentile } from './lib/stats.ts';

export interface IngestFigures {
  readonly events: number;
  readonly byType: Record<string, number>;
  readonly batch: number;
  readonly batches: number;
  readonly eventsPerS: number;
  readonly batchP50Ms: number;
  readonly batchP99Ms: number;
  readonly stored: number;
  readonly resentEvents: number;
  readonly resentStored: number;
  readonly resentEventsPerS: number;
}

export interface IngestSpec {
  readonly events: number;
  readonly batch: number;
  readonly nodes: readonly string[];
  /** Seqs up to this one are taken (by the bulk-loaded events) on every node. */
  readonly lastSeq: number;
  readonly start: number;
  readonly end: number;
  readonly seed: number;
}


function outboxes(spec: IngestSpec): { perNode: Map<string, OutboxEvent[]>; byType: Record<string, number> } {
  const make = mailMaker(spec.seed);
  const r = rng(spec.seed + 1);
  const perNode = new Map(spec.nodes.map((n) => [n, [] as OutboxEvent[]]));
  const seqs = new Map(spec.nodes.map((n) => [n, spec.lastSeq]));
  const byType: Record<string, number> = {};
  const push = (node: string, type: string, payload: unknown, at: number) => {
    const seq = seqs.get(node)! + 1;
    seqs.set(node, seq);
    perNode.get(node)!.push({ seq, type, payload, createdAt: at } as OutboxEvent);
    byType[type] = (byType[type] ?? 0) + 1;
  };
  let total = 0;
  for (let i = 0; total < spec.events; i++) {
    const node = spec.nodes[Math.floor(r() * spec.nodes.length)]!;
    const at = Math.floor(spec.start + r() * (spec.end - spec.start));
    const m = make.message(benchId('I', i, at), at);
    push(node, 'message.logged', m, at);
    total++;
    if (m.action === 'quarantine' && total < spec.events) {
      push(node, 'quarantine.added', { id: m.id, file: `${m.id}.eml`, createdAt: at, mailFrom: m.mailFrom, rcptTo: m.rcptTo, subject: m.subject, size: m.size, score: m.score, reasons: m.reasons }, at);
      total++;
    }
    if ((m.action === 'deliver' || m.action === 'tag') && r() < 0.6 && total < spec.events) {
      push(node, 'delivery.status', { id: m.id, kind: 'message', delivered: m.rcptTo, deferred: [], bounced: [], detail: '250 2.0.0 Ok: queued', attempt: 1, at: at + 200 }, at + 200);
      total++;
    }
  }
  return { perNode, byType };
}

export async function ingestRun(ingest: Ingest, spec: IngestSpec): Promise<IngestFigures> {
  const { perNode, byType } = outboxes(spec);
  // Interleave the nodes' batches, as several scanners draining at once would.
  const batches: [string, OutboxEvent[]][] = [];
  const cursors = new Map(spec.nodes.map((n) => [n, 0]));
  for (let more = true; more; ) {
    more = false;
    for (const node of spec.nodes) {
      const list = perNode.get(node)!;
      const at = cursors.get(node)!;
      if (at >= list.length) continue;
      batches.push([node, list.slice(at, at + spec.batch)]);
      cursors.set(node, at + spec.batch);
      more = true;
    }
  }
  const times: number[] = [];
  let stored = 0;
  const t0 = performance.now();
  for (const [node, events] of batches) {
    const t = performance.now();
    const res = await ingest.ingestBatch(node, events);
    times.push(performance.now() - t);
    stored += res.stored;
    if (res.rejected.length > 0) throw new Error(`bench events rejected: ${JSON.stringify(res.rejected.slice(0, 2))}`);
  }
  const totalMs = performance.now() - t0;
  const resend = batches.slice(-Math.max(1, Math.floor(batches.length / 10)));
  let resentEvents = 0;
  let resentStored = 0;
  const t1 = performance.now();
  for (const [node, events] of resend) {
    const res = await ingest.ingestBatch(node, events);
    resentEvents += events.length;
    resentStored += res.stored;
  }
  const resendMs = performance.now() - t1;
  const sorted = [...times].sort((a, b) => a - b);
  const events = batches.reduce((a, [, e]) => a + e.length, 0);
  return {
    events, byType, batch: spec.batch, batches: batches.length, eventsPerS: (events * 1000) / totalMs,
    batchP50Ms: percentile(sorted, 50), batchP99Ms: percentile(sorted, 99), stored,
    resentEvents, resentStored, resentEventsPerS: (resentEvents * 1000) / resendMs,
  };
}
