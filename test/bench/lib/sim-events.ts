/**
 * The outbox events of the master link benchmark: `message.logged` events as a scanner sends
 * them, deterministic per (node index, seq) within a UTC day, so the simulated scanners and the
 * in-process ingest baseline store exactly the same data. Mix: 70% deliver, 10% tag, 5% quarantine,
 * 15% reject; 1–3 recipients; a reason on every non-delivered message.
 */
import type { MessageLogged, OutboxEvent } from '@moat/protocol';

/** 20 alphanumerics, unique per (node, seq): "L" + node (3 digits) + seq (16 digits). */
export const eventMessageId = (node: number, seq: number): string => `L${String(node).padStart(3, '0')}${String(seq).padStart(16, '0')}`;

/**
 * The start of today (UTC), the same in every process of a run: messages are logged today, so
 * on PostgreSQL they go into today's day partition, which the ingest makes once and then
 * remembers, as a live master's ingest does (an old day's would be asked about every batch).
 */
const BASE_TIME = Math.floor(Date.now() / 86_400_000) * 86_400_000;
const WORDS = ['invoice', 'payment', 'meeting', 'report', 'offer', 'urgent', 'delivery', 'account', 'update', 'order', 'weekly', 're:', 'fwd:'];

/** Small integer hash (deterministic, no state): spreads (node, seq) over the value ranges. */
function h(node: number, seq: number, salt: number): number {
  let x = Math.imul(node + 1, 0x9e3779b1) ^ Math.imul(seq, 0x85ebca6b) ^ Math.imul(salt + 7, 0xc2b2ae35);
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export function messageLogged(node: number, seq: number): MessageLogged {
  const u = h(node, seq, 1) % 100;
  const action = u < 70 ? 'deliver' : u < 80 ? 'tag' : u < 85 ? 'quarantine' : 'reject';
  const sender = h(node, seq, 2) % 20_000;
  const nRcpt = 1 + (h(node, seq, 3) % 10 < 8 ? 0 : h(node, seq, 4) % 3);
  const rcptTo = Array.from({ length: nRcpt }, (_, i) => `user${h(node, seq, 10 + i) % 2000}@example.test`);
  const subject = `${WORDS[h(node, seq, 5) % WORDS.length]} ${WORDS[h(node, seq, 6) % WORDS.length]} #${h(node, seq, 7) % 1_000_000}`;
  const receivedAt = BASE_TIME + node * 1000 + seq * 50;
  const reasons =
    action === 'deliver'
      ? []
      : action === 'reject'
        ? [{ kind: 'list', rule: 'senderBlock', match: `sender${sender}@dom${sender % 3000}.example`, action: 'reject' }]
        : [{ kind: 'content', rule: action === 'tag' ? 'tag-me' : 'quarantine-me', match: 'subject', action, score: 5 }];
  return {
    id: eventMessageId(node, seq),
    receivedAt,
    clientIp: `192.0.2.${h(node, seq, 8) % 250}`,
    helo: `mx${sender % 500}.dom${sender % 3000}.example`,
    mailFrom: `sender${sender}@dom${sender % 3000}.example`,
    rcptTo,
    subject,
    messageId: `<${seq}.${node}.bench@dom${sender % 3000}.example>`,
    size: 2_000 + (h(node, seq, 9) % 60_000),
    action,
    score: action === 'deliver' ? 0 : 5,
    reasons,
    rulesVersion: 1,
    status: action === 'reject' ? 'rejected' : action === 'quarantine' ? 'quarantined' : 'queued',
  };
}

/** Seqs from..from+count-1 of node `node`, as the scanner's outbox sends them. */
export function outboxEvents(node: number, fromSeq: number, count: number): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (let seq = fromSeq; seq < fromSeq + count; seq++) {
    const payload = messageLogged(node, seq);
    out.push({ seq, type: 'message.logged', payload, createdAt: payload.receivedAt } as OutboxEvent);
  }
  return out;
}

/** The batches of one node: `batches` × `batch` events from `fromSeq`. */
export function nodeBatches(node: number, fromSeq: number, batches: number, batch: number): OutboxEvent[][] {
  return Array.from({ length: batches }, (_, i) => outboxEvents(node, fromSeq + i * batch, batch));
}

/** Wall-clock epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();
