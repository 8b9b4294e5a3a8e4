import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { writeFileDurably } from '@moat/storage';

/**
 * The witness: a third, light vote so a partition between two masters never leaves both
 * active (docs/masters.md). A master may act as active for epoch E only while it holds the
 * witness's lease for E. The witness grants each epoch to one master only, never goes back to
 * a lower epoch, and grants a higher epoch to another master only once the current lease has
 * run out, so the old holder (which stops acting when its lease runs out unrenewed) and the
 * new one never overlap. Its state is written durably before it answers, so a restarted
 * witness cannot grant the same epoch twice.
 *
 * Wire: `POST /vote` `{ candidate, epoch, stamp, mac }` → `{ granted, epoch, holder, leaseMs, stamp, mac }`,
 * both MACs HMAC-SHA256 under the shared key (`masters.witness.key`) over the fields.
 */
export interface WitnessState {
  readonly epoch: number;
  readonly holder: string | null;
  readonly leaseUntil: number;
}

export interface VoteRequest {
  readonly candidate: string;
  readonly epoch: number;
}

export interface VoteAnswer {
  readonly granted: boolean;
  readonly epoch: number;
  readonly holder: string | null;
}

/** The witness's decision, pure: (state, request, now) → (state, answer). */
export function decideVote(s: WitnessState, r: VoteRequest, now: number, leaseMs: number): { state: WitnessState; answer: VoteAnswer } {
  const refuse = { state: s, answer: { granted: false, epoch: s.epoch, holder: s.holder } };
  if (r.epoch < s.epoch) return refuse;
  if (r.candidate === s.holder && r.epoch >= s.epoch) {
    const state = { epoch: r.epoch, holder: r.candidate, leaseUntil: now + leaseMs };
    return { state, answer: { granted: true, epoch: r.epoch, holder: r.candidate } };
  }
  if (r.epoch === s.epoch) return refuse;
  if (s.holder !== null && now < s.leaseUntil) return refuse;
  const state = { epoch: r.epoch, holder: r.candidate, leaseUntil: now + leaseMs };
  return { state, answer: { granted: true, epoch: r.epoch, holder: r.candidate } };
}

export function voteMac(key: string, fields: readonly (string | number | boolean | null)[]): string {
  return createHmac('sha256', key).update(`moat-witness:v1:${fields.map(String).join(':')}`).digest('hex');
}

function macOk(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || !/^[0-9a-f]{64}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'));
}

export interface WitnessServer {
  readonly url: string;
  state(): WitnessState;
  close(): Promise<void>;
}

export async function startWitness(opts: { host: string; port: number; key: string; leaseMs: number; stateFile: string; log: Logger; now?: () => number }): Promise<WitnessServer> {
  const now = opts.now ?? Date.now;
  let state: WitnessState = { epoch: 0, holder: null, leaseUntil: 0 };
  try {
    const saved = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as { epoch: number; holder: string | null };
    // After a restart the holder's lease is taken as running afresh: never shorter than it was.
    state = { epoch: saved.epoch, holder: saved.holder, leaseUntil: now() + opts.leaseMs };
  } catch {
    // no state yet: a first start
  }
  let queue: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/vote') return reply(404, { error: 'not found', code: 'MOAT_ERR_NOT_FOUND' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > 4096) req.destroy();
    });
    req.on('end', () => {
      let r: { candidate?: unknown; epoch?: unknown; stamp?: unknown; mac?: unknown };
      try {
        r = JSON.parse(body) as typeof r;
      } catch {
        return reply(400, { error: 'body is not JSON', code: 'MOAT_ERR_BAD_REQUEST' });
      }
      if (typeof r.candidate !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(r.candidate) || !Number.isSafeInteger(r.epoch) || (r.epoch as number) < 1 || typeof r.stamp !== 'string' || r.stamp.length > 64) {
        return reply(400, { error: 'candidate, epoch and stamp are required', code: 'MOAT_ERR_BAD_REQUEST' });
      }
      const request = { candidate: r.candidate, epoch: r.epoch as number };
      if (!macOk(voteMac(opts.key, [request.candidate, request.epoch, r.stamp]), r.mac)) {
        opts.log.warn({ event: 'WITNESS_BAD_MAC', candidate: request.candidate }, 'vote request with a wrong MAC');
        return reply(403, { error: 'wrong MAC', code: 'MOAT_ERR_FORBIDDEN' });
      }
      const stamp = r.stamp;
      // One decision at a time, each persisted before its answer.
      queue = queue.then(async () => {
        const d = decideVote(state, request, now(), opts.leaseMs);
        if (d.state.epoch !== state.epoch || d.state.holder !== state.holder) {
          await writeFileDurably(opts.stateFile, JSON.stringify({ epoch: d.state.epoch, holder: d.state.holder }));
          opts.log.info({ event: 'WITNESS_GRANTED', candidate: request.candidate, epoch: request.epoch }, `vote for epoch ${request.epoch} granted to ${request.candidate}`);
        } else if (!d.answer.granted) opts.log.info({ event: 'WITNESS_REFUSED', candidate: request.candidate, epoch: request.epoch, holder: state.holder, heldEpoch: state.epoch }, 'vote refused');
        state = d.state;
        const a = d.answer;
        reply(200, { ...a, leaseMs: opts.leaseMs, stamp, mac: voteMac(opts.key, [a.granted, a.epoch, a.holder, stamp]) });
      }).catch((err: unknown) => {
        opts.log.error({ event: 'WITNESS_ERROR', err }, 'witness could not record its vote');
        reply(500, { error: 'witness could not record its vote', code: 'MOAT_ERR_INTERNAL' });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve));
  const port = (server.address() as AddressInfo).port;
  opts.log.info({ event: 'WITNESS_STARTED', host: opts.host, port, epoch: state.epoch, holder: state.holder }, 'witness listening');
  return {
    url: `http://${opts.host}:${port}`,
    state: () => state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Ask the witness for `epoch` (or to renew it); undefined when it cannot be reached or answers badly. */
export async function requestVote(url: string, key: string, candidate: string, epoch: number, timeoutMs: number): Promise<(VoteAnswer & { leaseMs: number }) | undefined> {
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    const res = await fetch(new URL('/vote', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ candidate, epoch, stamp, mac: voteMac(key, [candidate, epoch, stamp]) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) return undefined;
    const a = (await res.json()) as { granted?: unknown; epoch?: unknown; holder?: unknown; leaseMs?: unknown; stamp?: unknown; mac?: unknown };
    if (typeof a.granted !== 'boolean' || typeof a.epoch !== 'number' || a.stamp !== stamp || typeof a.leaseMs !== 'number') return undefined;
    const holder = typeof a.holder === 'string' ? a.holder : null;
    if (!macOk(voteMac(key, [a.granted, a.epoch, holder, stamp]), a.mac)) return undefined;
    return { granted: a.granted, epoch: a.epoch, holder, leaseMs: a.leaseMs };
  } catch {
    return undefined;
  }
}
