import { connectMaster, type MasterClient } from './master-client.ts';
import { messagesUnder } from './mail-sources.ts';

export interface LearnOptions {
  readonly spam: readonly string[];
  readonly ham: readonly string[];
  /** Another cluster's master (with MOAT_TOKEN); absent: the local cluster of `pnpm start` (master-client.ts). */
  readonly master?: string;
  readonly var?: string;
  /** Most seconds to wait at the end for every online scanner to apply everything. */
  readonly waitSeconds: number;
  readonly out: NodeJS.WriteStream;
}

const PARALLEL = 4;

/**
 * `moat learn --spam DIR --ham DIR`: teach every message to the cluster (POST /api/v1/learn,
 * without waiting), then wait once until every online scanner has applied the last one.
 * Returns the exit code: 0 when all was taught and applied.
 */
export async function runLearn(options: LearnOptions): Promise<number> {
  const client = await connectMaster(options);
  const jobs: { as: 'spam' | 'ham'; path: string }[] = [...options.spam.map((path) => ({ as: 'spam' as const, path })), ...options.ham.map((path) => ({ as: 'ham' as const, path }))];
  const counts = { spam: 0, ham: 0, new: 0, known: 0, failed: 0 };
  let lastSeq = 0;
  let done = 0;
  const progress = new Progress(options.out);
  for (const job of jobs) {
    const queue = messagesUnder(job.path);
    const worker = async () => {
      for (;;) {
        const next = await queue.next();
        if (next.done) return;
        const { source, raw } = next.value;
        try {
          const res = await fetch(`${client.url}/api/v1/learn?as=${job.as}&wait=0&source=cli`, { method: 'POST', headers: { ...client.headers, 'content-type': 'message/rfc822' }, body: raw });
          const body = (await res.json()) as { event?: { seq: number }; created?: boolean; error?: string };
          if (res.status !== 200 && res.status !== 202) throw new Error(`HTTP ${res.status} ${body.error ?? ''}`);
          counts[job.as]++;
          if (body.created) counts.new++;
          else counts.known++;
          lastSeq = Math.max(lastSeq, body.event?.seq ?? 0);
        } catch (err) {
          counts.failed++;
          progress.note(`${source}: ${(err as Error).message}`);
        }
        progress.show(++done, `${job.as} ${job.path}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  }
  progress.end();
  const applied = await waitApplied(client, lastSeq, options.waitSeconds, progress);
  const summary = `learned ${counts.spam} spam and ${counts.ham} ham (${counts.new} new, ${counts.known} already known${counts.failed ? `, ${counts.failed} failed` : ''}); ${applied.text}`;
  options.out.write(`${summary}\n`);
  return counts.failed === 0 && applied.complete ? 0 : 1;
}

async function waitApplied(client: MasterClient, seq: number, waitSeconds: number, progress: Progress): Promise<{ complete: boolean; text: string }> {
  if (seq === 0) return { complete: true, text: 'nothing new to apply' };
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const left = Math.max(0, Math.min(600, Math.ceil((deadline - Date.now()) / 1000)));
    const res = await fetch(`${client.url}/api/v1/learn/nodes?seq=${seq}&wait=${left}`, { headers: client.headers });
    const body = (await res.json()) as { complete: boolean; pending: { node: string; error?: string }[]; items: { name: string; online: boolean }[] };
    if (res.status !== 200) return { complete: false, text: `could not ask the master what was applied: HTTP ${res.status}` };
    const online = body.items.filter((n) => n.online).map((n) => n.name);
    if (body.complete) return { complete: true, text: `applied on every online scanner (${online.join(', ') || 'none online'})` };
    if (Date.now() >= deadline) return { complete: false, text: `still pending on ${body.pending.map((p) => `${p.node}${p.error ? ` (${p.error})` : ''}`).join(', ')}` };
    progress.note(`waiting for ${body.pending.map((p) => p.node).join(', ')} to apply up to event ${seq}`);
  }
}

/** A one-line progress bar on a terminal; nothing but the notes elsewhere. */
class Progress {
  private readonly out: NodeJS.WriteStream;
  private drawn = false;
  constructor(out: NodeJS.WriteStream) {
    this.out = out;
  }
  show(done: number, what: string): void {
    if (!this.out.isTTY) return;
    const width = 30;
    const spin = Math.floor(done / 10) % width;
    const bar = Array.from({ length: width }, (_, i) => (i === spin ? '=' : i < spin ? '-' : ' ')).join('');
    this.out.write(`\r[${bar}] ${done} messages  ${what.slice(-40)}\x1b[K`);
    this.drawn = true;
  }
  note(line: string): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.out.write(`${line}\n`);
  }
  end(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
