import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '@moat/storage';
import { removeDurably, writeFileDurably } from '@moat/storage';
import { MAX_INJECT_BYTES } from '@moat/protocol';
import { newMessageId } from '../store/ids.ts';
import type { ToMaster, ToScanner } from '@moat/protocol';
import type { QuarantineStore } from '../store/quarantine-store.ts';
import type { QueueStore } from '../relay/queue-store.ts';
import { StreamSender } from './stream-sender.ts';
import type { RetentionStore } from '../retention/retention-store.ts';
import { redeliveryHeaders, unacceptedRecipient } from '../retention/redelivery.ts';
import type { CompiledRules } from '@moat/rules';

export interface HandlerDeps {
  readonly db: Db;
  readonly quarantine: QuarantineStore;
  readonly queue: QueueStore;
  readonly retention: RetentionStore;
  /** The rules in force: a re-delivery goes only to accepted domains. */
  readonly rules: () => CompiledRules;
  readonly queueDir: string;
  readonly wakeRelay: () => void;
  /** Bounce a queued message now (the relay worker's `bounce`). */
  readonly bounceQueued: (queueId: string) => Promise<'bounced' | 'not-found' | 'busy'>;
  readonly hostname: string;
  readonly nodeName: string;
  readonly now: () => number;
  readonly log: Logger;
  /** Makes committed writes durable (the database's WAL sync): awaited before a change is acknowledged. */
  readonly sync: () => Promise<void>;
}

type Request = Extract<ToScanner, { id: string }>;

/** Requests that change the node's database: answered only once the change is on disk. */
const CHANGES: ReadonlySet<Request['type']> = new Set(['quarantine.release', 'quarantine.release-rcpt', 'quarantine.delete', 'queue.retry', 'queue.delete', 'queue.bounce', 'queue.inject', 'retained.redeliver']);

/**
 * The master's requests of this node. Every answer echoes the request id; ids were validated
 * by the frame schema (20 alphanumerics), and a file is only ever opened by the name the local
 * index holds, so no request can reach outside the quarantine folder.
 */
export function createRequestHandlers(deps: HandlerDeps) {
  const streams = new Map<string, StreamSender>();
  const messageRow = deps.db.prepare<[string], { helo: string; client_ip: string; received_at: number }>('SELECT helo, client_ip, received_at FROM messages WHERE id = ?');

  const result = (id: string, ok: boolean, extra: { code?: string; message?: string; data?: unknown } = {}): ToMaster => ({ type: 'result', id, ok, ...extra });
  const notFound = (id: string, what: string) => result(id, false, { code: 'MOAT_ERR_NOT_FOUND', message: `${what} is not on node ${deps.nodeName}` });

  function releaseHeaders(id: string): string[] {
    const m = messageRow.get(id);
    const at = new Date(deps.now()).toUTCString();
    const received = m ? `Received: from ${m.helo.replace(/[^\x21-\x7e]/g, '') || 'unknown'} ([${m.client_ip}])\r\n\tby ${deps.hostname} (Moat) with ESMTP id ${id};\r\n\t${new Date(m.received_at).toUTCString()}` : undefined;
    return [...(received ? [received] : []), `X-Moat-Node: ${deps.nodeName}`, `X-Moat-Verdict: quarantine (released ${at})`];
  }

  const gone = (id: string, messageId: string) => result(id, false, { code: 'MOAT_ERR_GONE', message: `no retained copy of message ${messageId} on node ${deps.nodeName} (expired or never kept)` });

  /**
   * Stream a file under credit. A file gone since the look-up answers with `missing`; any other
   * read error with an error result, so the master answers at once instead of at its time-out.
   */
  async function stream(frame: { id: string; window: number; messageId: string }, path: string, send: (f: ToMaster) => void, missing: () => ToMaster): Promise<void> {
    const sender = new StreamSender(frame.id, frame.window, send);
    streams.set(frame.id, sender);
    try {
      await sender.run(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return send(missing());
      deps.log.error({ event: 'LINK_READ_ERROR', queueId: frame.messageId, err }, 'could not read a message file for the master');
      send(result(frame.id, false, { code: 'MOAT_ERR_NODE_READ', message: `node ${deps.nodeName} could not read message ${frame.messageId}` }));
    } finally {
      streams.delete(frame.id);
    }
  }

  async function handle(frame: Request, send: (f: ToMaster) => void): Promise<void> {
    if (!CHANGES.has(frame.type)) return dispatch(frame, send);
    const answers: ToMaster[] = [];
    await dispatch(frame, (f) => answers.push(f));
    try {
      await deps.sync();
    } catch (err) {
      deps.log.error({ event: 'DB_SYNC_FAILED', err }, 'a change could not be made durable; the master is told it failed');
      return send(result(frame.id, false, { code: 'MOAT_ERR_INTERNAL', message: `node ${deps.nodeName} could not write the change to disk` }));
    }
    for (const a of answers) send(a);
  }

  async function dispatch(frame: Request, send: (f: ToMaster) => void): Promise<void> {
    switch (frame.type) {
      case 'quarantine.fetch': {
        const q = deps.quarantine.get(frame.messageId);
        if (!q || q.status !== 'held') return send(notFound(frame.id, `quarantined message ${frame.messageId}`));
        return stream(frame, deps.quarantine.path(q), send, () => notFound(frame.id, `quarantined message ${frame.messageId}`));
      }
      case 'stream.credit':
        streams.get(frame.id)?.grant(frame.chunks);
        return;
      case 'stream.cancel':
        streams.get(frame.id)?.cancel();
        return;
      case 'quarantine.release': {
        const outcome = await deps.quarantine.release(frame.messageId, releaseHeaders(frame.messageId), deps.now());
        if (outcome === 'not-found') return send(notFound(frame.id, `quarantined message ${frame.messageId}`));
        if (outcome === 'not-held') return send(result(frame.id, false, { code: 'MOAT_ERR_CONFLICT', message: `message ${frame.messageId} is no longer held` }));
        deps.log.info({ event: 'QUARANTINE_RELEASED', queueId: frame.messageId }, 'released from quarantine by the master');
        deps.wakeRelay();
        return send(result(frame.id, true));
      }
      case 'quarantine.release-rcpt': {
        const queueId = newMessageId(deps.now());
        const outcome = await deps.quarantine.releaseTo(frame.messageId, frame.rcptTo, releaseHeaders(frame.messageId), deps.now(), queueId);
        if (outcome === 'not-found') return send(notFound(frame.id, `quarantined message ${frame.messageId}`));
        if (outcome === 'not-held') return send(result(frame.id, false, { code: 'MOAT_ERR_CONFLICT', message: `message ${frame.messageId} is no longer held` }));
        if (outcome === 'not-recipient') return send(result(frame.id, false, { code: 'MOAT_ERR_NOT_RECIPIENT', message: `message ${frame.messageId} is not addressed to every one of these recipients` }));
        deps.log.info({ event: 'QUARANTINE_RELEASED_RCPT', queueId: frame.messageId, copy: queueId, rcpt: frame.rcptTo.length }, 'released from quarantine to some of its recipients');
        deps.wakeRelay();
        return send(result(frame.id, true, { data: { queueId } }));
      }
      case 'quarantine.delete': {
        const outcome = await deps.quarantine.remove(frame.messageId, deps.now());
        if (outcome === 'not-found') return send(notFound(frame.id, `quarantined message ${frame.messageId}`));
        deps.log.info({ event: 'QUARANTINE_DELETED', queueId: frame.messageId }, 'deleted from quarantine by the master');
        return send(result(frame.id, true));
      }
      case 'queue.list': {
        const stats = deps.queue.stats();
        const entries = deps.queue.list(frame.limit).map((e) => ({
          id: e.id, messageId: e.messageId, kind: e.kind, mailFrom: e.mailFrom, rcptTo: e.rcptTo, attempts: e.attempts,
          createdAt: e.createdAt, nextAttemptAt: e.nextAttemptAt, lastError: e.lastError,
        }));
        return send(result(frame.id, true, { data: { count: stats.n, oldest: stats.oldest, entries } }));
      }
      case 'queue.retry': {
        if (!deps.queue.retryNow(frame.queueId, deps.now())) return send(notFound(frame.id, `queued message ${frame.queueId}`));
        deps.wakeRelay();
        return send(result(frame.id, true));
      }
      case 'queue.delete': {
        const entry = deps.queue.get(frame.queueId);
        if (!entry) return send(notFound(frame.id, `queued message ${frame.queueId}`));
        deps.queue.remove(entry, deps.now());
        await removeDurably(join(deps.queueDir, entry.file));
        deps.log.info({ event: 'QUEUE_DELETED', queueId: entry.messageId }, 'removed from the queue by the master');
        return send(result(frame.id, true));
      }
      case 'queue.bounce': {
        const outcome = await deps.bounceQueued(frame.queueId);
        if (outcome === 'not-found') return send(notFound(frame.id, `queued message ${frame.queueId}`));
        if (outcome === 'busy') return send(result(frame.id, false, { code: 'MOAT_ERR_CONFLICT', message: `queued message ${frame.queueId} is being delivered right now: look again in a moment` }));
        return send(result(frame.id, true));
      }
      case 'queue.inject': {
        // The schema capped the base64 text; the decoded size and shape are checked here.
        const bytes = Buffer.from(frame.data, 'base64');
        if (bytes.length === 0 || bytes.length > MAX_INJECT_BYTES || !/^[\x21-\x39\x3b-\x7e]+:/.test(bytes.subarray(0, 200).toString('latin1'))) {
          return send(result(frame.id, false, { code: 'MOAT_ERR_BAD_MESSAGE', message: `an injected message must be 1 to ${MAX_INJECT_BYTES} bytes and start with a header` }));
        }
        const at = deps.now();
        const queueId = newMessageId(at);
        const file = `${queueId}.eml`;
        // Like an accepted message: the file is on disk before the row that points at it.
        await writeFileDurably(join(deps.queueDir, file), bytes);
        deps.queue.inject(queueId, file, frame.mailFrom, frame.rcptTo, at);
        deps.log.info({ event: 'QUEUE_INJECTED', queueId, rcpt: frame.rcptTo.length, size: bytes.length }, 'message from the master queued for relay');
        deps.wakeRelay();
        return send(result(frame.id, true, { data: { queueId } }));
      }
      // ── retention (issue 10) ──
      case 'retained.fetch': {
        const c = deps.retention.get(frame.messageId);
        if (!c) return send(gone(frame.id, frame.messageId));
        return stream(frame, deps.retention.path(c), send, () => gone(frame.id, frame.messageId));
      }
      case 'retained.redeliver': {
        const outside = frame.rcptTo && unacceptedRecipient(deps.rules(), frame.rcptTo);
        if (outside) return send(result(frame.id, false, { code: 'MOAT_ERR_VALIDATION', message: `recipient ${outside.slice(0, 320)} is not in an accepted domain` }));
        const at = deps.now();
        const outcome = await deps.retention.redeliver(frame.messageId, frame.rcptTo, (queueId) => redeliveryHeaders({ id: frame.messageId, queueId, hostname: deps.hostname, nodeName: deps.nodeName, at }), at);
        if (outcome === 'not-found') return send(gone(frame.id, frame.messageId));
        deps.log.info({ event: 'RETAINED_REDELIVERED', queueId: frame.messageId, newQueueId: outcome.queueId, rcpt: outcome.rcptTo.length }, 'retained copy queued for delivery again by the master');
        deps.wakeRelay();
        return send(result(frame.id, true, { data: { queueId: outcome.queueId, rcptTo: outcome.rcptTo } }));
      }
      default:
        return;
    }
  }

  return {
    handle,
    /** The link dropped: stop every stream (the master has given up on them). */
    cancelAll(): void {
      for (const s of streams.values()) s.cancel();
      streams.clear();
    },
  };
}
export type RequestHandlers = ReturnType<typeof createRequestHandlers>;
