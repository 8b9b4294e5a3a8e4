import type { Logger } from 'pino';
import type { MessageLogged, Refusal } from '@moat/protocol';
import { newMessageId } from '../store/ids.ts';

type WireReason = MessageLogged['reasons'][number];

/** One refused SMTP transaction, as the ingress saw it. */
export interface RefusedTransaction {
  readonly ip: string;
  readonly helo: string;
  readonly stage: Refusal['stage'];
  readonly mailFrom: string;
  /** The refused recipients (RCPT stage); empty before RCPT. */
  readonly rcptTo: readonly string[];
  readonly reasons: readonly WireReason[];
  /** The reply sent, e.g. `550 5.7.1 Relaying denied`. */
  readonly reply: string;
  readonly rulesVersion: number;
}

export interface RefusalLogSettings {
  /** Refusals from one client address recorded one by one per window; past it they are aggregated. */
  readonly perIpBurst: number;
  readonly windowMs: number;
  /** Client addresses tracked at once; refusals from further addresses share one aggregate. */
  readonly maxTrackedIps: number;
}

export interface RefusalLogDeps {
  readonly settings: RefusalLogSettings;
  /** Commit one log entry with its outbox event; resolves once it is on disk. */
  readonly write: (entry: MessageLogged) => Promise<void>;
  readonly now: () => number;
  readonly log: Logger;
}

/** The refusals of one client address in its current window. */
interface Window {
  readonly startedAt: number;
  recorded: number;
  aggregate?: Aggregate;
}

interface Aggregate {
  count: number;
  firstAt: number;
  lastAt: number;
  last: RefusedTransaction;
  readonly reasons: Map<string, WireReason>;
  timer: NodeJS.Timeout;
}

/** Distinct reasons kept on an aggregate entry (the count covers every refusal). */
const MAX_AGGREGATE_REASONS = 20;
/** The key under which addresses past `maxTrackedIps` are aggregated together. */
const OVERFLOW = '*';

/**
 * Turns refused transactions into message-log entries for the master, at a bounded rate per
 * client address: within a window (`windowMs`, from an address's first refusal) the first
 * `perIpBurst` refusals are logged one by one, the rest are counted into a single aggregate
 * entry written when the window ends (its `refusal.count` says how many it stands for, its
 * reasons are the distinct ones seen). A flood of 1,000 refused connections from one address
 * in one window is `perIpBurst` + 1 entries, and the reports still count 1,000.
 */
export class RefusalLog {
  private readonly windows = new Map<string, Window>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly deps: RefusalLogDeps;
  private closed = false;

  constructor(deps: RefusalLogDeps) {
    this.deps = deps;
  }

  /**
   * Record one refused transaction. Resolves once its entry is committed when it is logged on
   * its own, at once when it joins an aggregate. Never rejects: a failed write is logged (the
   * refusal stands whatever the log does).
   */
  refused(t: RefusedTransaction): Promise<void> {
    if (this.closed) return Promise.resolve(); // the SMTP server closes first: nothing is refused after this
    try {
      return this.decide(t);
    } catch (err) {
      this.deps.log.error({ event: 'SMTP_REFUSAL_LOG_ERROR', err }, 'a refusal could not be logged');
      return Promise.resolve();
    }
  }

  private decide(t: RefusedTransaction): Promise<void> {
    const now = this.deps.now();
    const key = this.keyFor(t.ip, now);
    let w = this.windows.get(key);
    if (!w || now - w.startedAt >= this.deps.settings.windowMs) {
      if (w?.aggregate) this.flush(key, w);
      w = { startedAt: now, recorded: 0 };
      this.windows.set(key, w);
    }
    if (key !== OVERFLOW && w.recorded < this.deps.settings.perIpBurst) {
      w.recorded++;
      return this.track(this.entry(t, { count: 1, firstAt: now, lastAt: now }, t.reasons));
    }
    this.aggregate(key, w, t, now);
    return Promise.resolve();
  }

  /** Write every pending aggregate and wait for every write (at shutdown, before the database closes). */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, w] of this.windows) if (w.aggregate) this.flush(key, w);
    this.windows.clear();
    await Promise.all([...this.inFlight]);
  }

  private keyFor(ip: string, now: number): string {
    if (this.windows.has(ip) || this.windows.size < this.deps.settings.maxTrackedIps) return ip;
    // Make room by dropping windows that have ended (their aggregates are written first).
    for (const [key, w] of this.windows) {
      if (now - w.startedAt < this.deps.settings.windowMs) continue;
      if (w.aggregate) this.flush(key, w);
      this.windows.delete(key);
    }
    return this.windows.size < this.deps.settings.maxTrackedIps ? ip : OVERFLOW;
  }

  private aggregate(key: string, w: Window, t: RefusedTransaction, now: number): void {
    let a = w.aggregate;
    if (!a) {
      const due = Math.max(0, w.startedAt + this.deps.settings.windowMs - now);
      const timer = setTimeout(() => {
        if (this.windows.get(key) === w) this.windows.delete(key);
        this.flush(key, w);
      }, due);
      timer.unref();
      a = { count: 0, firstAt: now, lastAt: now, last: t, reasons: new Map(), timer };
      w.aggregate = a;
    }
    a.count++;
    a.lastAt = now;
    a.last = t;
    for (const r of t.reasons) {
      const k = `${r.kind}\0${r.rule}\0${r.match}`;
      if (a.reasons.size < MAX_AGGREGATE_REASONS && !a.reasons.has(k)) a.reasons.set(k, r);
    }
  }

  private flush(key: string, w: Window): void {
    const a = w.aggregate;
    if (!a) return;
    w.aggregate = undefined;
    clearTimeout(a.timer);
    const summary: WireReason = {
      kind: 'refusal',
      rule: 'aggregated',
      match: `${a.count} refused transactions from ${key === OVERFLOW ? 'addresses past smtp.refusalLog.maxTrackedIps' : key} between ${new Date(a.firstAt).toISOString()} and ${new Date(a.lastAt).toISOString()}`,
    };
    const last = key === OVERFLOW ? { ...a.last, ip: '' } : a.last;
    this.deps.log.info({ event: 'SMTP_REFUSALS_AGGREGATED', ip: last.ip, count: a.count, stage: last.stage }, 'refusals from one address logged as one entry');
    void this.track(this.entry(last, { count: a.count, firstAt: a.firstAt, lastAt: a.lastAt }, [summary, ...a.reasons.values()]));
  }

  private entry(t: RefusedTransaction, n: Pick<Refusal, 'count' | 'firstAt' | 'lastAt'>, reasons: readonly WireReason[]): MessageLogged {
    return {
      id: newMessageId(n.lastAt),
      receivedAt: n.lastAt,
      clientIp: t.ip,
      helo: t.helo.slice(0, 512),
      mailFrom: t.mailFrom.slice(0, 512),
      rcptTo: t.rcptTo.slice(0, 1000).map((r) => r.slice(0, 512)),
      subject: '',
      messageId: '',
      size: 0,
      action: 'reject',
      score: 0,
      reasons: reasons.map((r) => ({ ...r, rule: r.rule.slice(0, 256), match: r.match.slice(0, 512) })),
      rulesVersion: t.rulesVersion,
      status: 'refused',
      refusal: { stage: t.stage, reply: t.reply.slice(0, 600), ...n },
    };
  }

  private track(entry: MessageLogged): Promise<void> {
    const p = this.deps.write(entry).catch((err: unknown) => {
      this.deps.log.error({ event: 'SMTP_REFUSAL_LOG_ERROR', queueId: entry.id, err }, 'a refusal could not be logged');
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }
}
