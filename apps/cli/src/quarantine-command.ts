import { callMaster, OperationError, type MasterClient } from './master-client.ts';
import { formatTable } from './table.ts';

interface QuarantineEntry {
  id: string;
  nodeId: string;
  nodeName: string | null;
  createdAt: string;
  mailFrom: string;
  firstRcpt: string;
  rcptCount: number;
  subject: string;
  size: number;
  score: number;
  status: string;
}

export interface QuarantineListOptions {
  readonly sender?: string | undefined;
  readonly recipient?: string | undefined;
  readonly subject?: string | undefined;
  readonly node?: string | undefined;
  readonly status?: string | undefined;
  readonly limit: number;
  readonly json: boolean;
}

/** `moat quarantine list`: GET /api/v1/quarantine with the console's filters (an address matches any part of it). */
export async function runQuarantineList(client: MasterClient, o: QuarantineListOptions, out: NodeJS.WritableStream): Promise<number> {
  const query = new URLSearchParams();
  for (const key of ['sender', 'recipient', 'subject', 'node', 'status'] as const) if (o[key]) query.set(key, o[key]);
  if (o.sender || o.recipient) query.set('match', 'contains');
  query.set('limit', String(o.limit));
  const page = await callMaster<{ items: QuarantineEntry[]; next: string | null }>(client, 'GET', `/quarantine?${query}`);
  if (o.json) {
    out.write(`${JSON.stringify(page, null, 2)}\n`);
    return 0;
  }
  if (page.items.length === 0) {
    out.write('no quarantined message matches\n');
    return 0;
  }
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  out.write(`${formatTable(['ID', 'QUARANTINED', 'NODE', 'STATUS', 'SCORE', 'FROM', 'TO', 'SUBJECT'], page.items.map((q) => [
    q.id,
    q.createdAt.slice(0, 19).replace('T', ' '),
    q.nodeName ?? q.nodeId,
    q.status,
    q.score.toFixed(1),
    clip(q.mailFrom || '<>', 40),
    clip(q.firstRcpt, 40) + (q.rcptCount > 1 ? ` +${q.rcptCount - 1}` : ''),
    clip(q.subject, 60),
  ]))}\n${page.next ? `(more: narrow the search or raise --limit)\n` : ''}`);
  return 0;
}

/** `moat quarantine release ID [--node N]`: its node relays it downstream (POST /api/v1/quarantine/{id}/release). */
export async function runQuarantineRelease(client: MasterClient, id: string, node: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const q = await callMaster<QuarantineEntry>(client, 'GET', `/quarantine/${encodeURIComponent(id)}`);
  // --node guards against releasing the wrong message: the id must be the one held on that node.
  if (node !== undefined && node !== q.nodeName && node !== q.nodeId) throw new OperationError(`message ${id} is on node ${q.nodeName ?? q.nodeId}, not ${node}: nothing released`);
  await callMaster(client, 'POST', `/quarantine/${encodeURIComponent(id)}/release`, {});
  out.write(`released ${id} on ${q.nodeName ?? q.nodeId}: ${q.subject || '(no subject)'} from ${q.mailFrom || '<>'}\n`);
  return 0;
}
