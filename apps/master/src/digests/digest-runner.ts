import type { Logger } from 'pino';
import { DEFAULT_QUARANTINE_BYTES, DEFAULT_QUARANTINE_DAYS, quarantineExpiresAt, type QuarantineLifetime } from '@moat/rules';
import { describeReasons } from './categories.ts';
import { composeDigest } from './compose.ts';
import type { Kysely } from 'kysely';
import { LeaseLostError, type JobLease, type Lease } from '../db/leases.ts';
import type { MasterSchema } from '../db/schema.ts';
import { createDigestRepository, type DigestRepository, type HeldForRecipient } from './digest-repository.ts';
import { signLink, type LinkAction } from './links.ts';
import { nextRunAt } from './schedule.ts';
import type { DigestSettings } from './settings-schema.ts';
import { createDigestStore, type DigestStore } from './settings-repository.ts';
import type { TemplateValues } from './template.ts';

const DAY_MS = 86_400_000;

/** What a round needs of the cluster: the scanners it can hand digests to, and a scanner's queue (hub.ts). */
export interface DigestRelay {
  /** Sorted; on several masters, those linked to another when none is linked here (hub.relayNodeIds). */
  relayNodeIds(): Promise<readonly string[]>;
  injectMessage(nodeId: string, message: { mailFrom: string; rcptTo: readonly string[]; raw: Buffer }): Promise<{ queueId: string }>;
}

const DEFAULT_LIFETIME: QuarantineLifetime = { days: { spam: DEFAULT_QUARANTINE_DAYS, virus: DEFAULT_QUARANTINE_DAYS, policy: DEFAULT_QUARANTINE_DAYS }, maxBytes: DEFAULT_QUARANTINE_BYTES };

export interface DigestRunnerDeps {
  readonly store: DigestStore;
  readonly repo: DigestRepository;
  readonly relay: DigestRelay;
  readonly log: Logger;
  readonly now: () => number;
  /** The master's own URL: links start with it when the settings give no baseUrl. */
  readonly ownUrl: () => string;
  /** Right-hand side of the digests' Message-IDs (the master's node name). */
  readonly hostname: string;
  /** The rules' quarantine lifetime, for each message's expiry date (default: 30 days for every kind). */
  readonly quarantineLifetime?: () => Promise<QuarantineLifetime | undefined>;
  /**
   * The round's lease across masters (db/leases.ts): a scheduled tick runs only on the master
   * holding it, and a round's claims and its "last round" are written fenced, so a master that
   * paused past its lease does not go on after another took over. Absent: every tick may run.
   */
  readonly lease?: JobLease;
}

export interface RoundOutcome {
  /** Digests queued on a scanner this round. */
  readonly queued: number;
  /** Held messages listed in them. */
  readonly messages: number;
  /** Recipients whose digest could not be queued (no scanner online, or it failed): retried next round. */
  readonly waiting: number;
}

/** The URL of a signed link for one recipient. */
export function linkUrl(base: string, secret: Buffer, action: LinkAction, item: { nodeId: string; id: string } | undefined, recipient: string, expiresAt: number): string {
  const token = signLink(secret, { action, nodeId: item?.nodeId ?? '', messageId: item?.id ?? '', recipient, expiresAt });
  return `${base.replace(/\/+$/, '')}/user/link?t=${token}`;
}

/**
 * One digest per recipient for the whole cluster, from the master's quarantine index, relayed
 * through an online scanner's durable queue. A recipient's messages are claimed before the
 * hand-off (so two masters' rounds never list one message twice, digest-repository.ts) and
 * marked as listed once the digest is on a scanner's disk; a failed hand-off drops the claim,
 * so the next round retries it; a master crash in between leaves a claim that times out, and
 * that digest is sent again (at least once, like all mail).
 */
export class DigestRunner {
  private readonly deps: DigestRunnerDeps;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RoundOutcome> | undefined;
  private nextNode = 0;

  constructor(deps: DigestRunnerDeps) {
    this.deps = deps;
  }

  /** Check every `tickMs` whether a round is due. */
  start(tickMs: number): void {
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.deps.lease?.release().catch((err: unknown) => this.deps.log.warn({ event: 'LEASE_RELEASE_FAILED', job: 'digests', err }, 'could not give the digest rounds\' lease up; another master takes it once it expires'));
  }

  /** When the next scheduled round is due (null while digests are disabled). */
  async nextDueAt(): Promise<number | null> {
    const { settings, updatedAt } = await this.deps.store.settings();
    if (!settings.enabled) return null;
    return nextRunAt(settings.schedule, (await this.deps.store.lastRunAt()) ?? updatedAt ?? this.deps.now());
  }

  async tick(): Promise<void> {
    try {
      const lease = await this.deps.lease?.take();
      // Another master holds the rounds' lease: it runs them.
      if (this.deps.lease && !lease) return;
      const due = await this.nextDueAt();
      if (due === null || this.deps.now() < due) return;
      await this.runRound(lease);
    } catch (err) {
      if (err instanceof LeaseLostError) this.deps.log.warn({ event: 'DIGEST_LEASE_LOST' }, `digest round stopped: ${err.message}`);
      else this.deps.log.error({ event: 'DIGEST_ROUND_ERROR', err }, 'digest round failed');
    }
  }

  /** One round now (also what an admin's "send now" does, without a lease: its claims keep it from listing a message twice); concurrent calls share one round. */
  runRound(lease?: Lease): Promise<RoundOutcome> {
    this.running ??= this.round(lease).finally(() => (this.running = undefined));
    return this.running;
  }

  /** A write of the round: fenced by its lease when it has one, over the repository and store joined to that transaction. */
  private write<T>(lease: Lease | undefined, work: (repo: DigestRepository, store: DigestStore) => Promise<T>): Promise<T> {
    const jobLease = this.deps.lease;
    if (!lease || !jobLease) return work(this.deps.repo, this.deps.store);
    return jobLease.fenced(lease, (trx: Kysely<MasterSchema>) => work(createDigestRepository(trx), createDigestStore(trx)));
  }

  private async round(lease: Lease | undefined): Promise<RoundOutcome> {
    const { store, repo, log, now } = this.deps;
    const { settings } = await store.settings();
    const startedAt = now();
    const since = startedAt - settings.maxAgeDays * DAY_MS;
    await repo.prune(since - DAY_MS);
    const pending = await repo.pending(since, settings.categories, settings.maxMessages, startedAt);
    const lifetime = (await this.deps.quarantineLifetime?.()) ?? DEFAULT_LIFETIME;
    const secret = await store.secret();
    let queued = 0;
    let messages = 0;
    let waiting = 0;
    let handled = 0;
    for (const [recipient, listed] of pending) {
      const online = await this.deps.relay.relayNodeIds();
      if (online.length === 0) {
        waiting += pending.size - handled;
        log.warn({ event: 'DIGEST_NO_SCANNER', waiting }, 'no scanner online to relay digests; retrying next round');
        break;
      }
      handled++;
      const nodeId = online[this.nextNode++ % online.length]!;
      // Taken before the hand-off, so another master's round at the same time lists them nowhere else.
      const claim = await this.write(lease, (r) => r.claim(listed, recipient, now(), nodeId));
      const items = claim.items;
      if (items.length === 0) continue;
      let queueId: string;
      try {
        const digest = await composeDigest(settings, recipient, this.values(settings, lifetime, secret, recipient, items, startedAt), this.deps.hostname, new Date(startedAt));
        ({ queueId } = await this.deps.relay.injectMessage(nodeId, { mailFrom: digest.mailFrom, rcptTo: [recipient], raw: digest.raw }));
      } catch (err) {
        waiting++;
        log.warn({ event: 'DIGEST_QUEUE_FAILED', nodeId, recipient, code: (err as { code?: string }).code, error: (err as Error).message }, 'digest not queued; retrying next round');
        // Not released (the database failed too): the claim times out and a later round lists them.
        await repo.release(claim).catch((e: unknown) => log.warn({ event: 'DIGEST_CLAIM_KEPT', recipient, error: (e as Error).message }, 'a failed digest\'s claim could not be dropped; listed again once it times out'));
        continue;
      }
      queued++;
      messages += items.length;
      log.info({ event: 'DIGEST_QUEUED', queueId, nodeId, recipient, messages: items.length }, 'digest queued for relay');
      // Not marked (claim timed out and taken, or the database failed): listed again later, at least once like all mail.
      const marked = await repo.markSent(claim, now(), nodeId, queueId).catch(() => false);
      if (!marked) log.warn({ event: 'DIGEST_CLAIM_LOST', queueId, nodeId, recipient }, 'a queued digest could not be recorded as sent; its messages may be listed again');
    }
    if (waiting === 0) await this.write(lease, (_, s) => s.setLastRunAt(startedAt));
    log.info({ event: 'DIGEST_ROUND', queued, messages, waiting }, 'digest round done');
    return { queued, messages, waiting };
  }

  private values(settings: DigestSettings, lifetime: QuarantineLifetime, secret: Buffer, recipient: string, items: readonly HeldForRecipient[], at: number): TemplateValues {
    const base = settings.baseUrl || this.deps.ownUrl();
    const expiresAt = at + Math.round(settings.linkHours * 3_600_000);
    const link = (action: LinkAction, item?: HeldForRecipient) => linkUrl(base, secret, action, item, recipient, expiresAt);
    return {
      digest: { recipient, count: String(items.length), portalUrl: link('open'), linkHours: String(settings.linkHours), date: formatTime(at) },
      messages: items.map((item) => ({
        sender: item.mailFrom || '<>',
        subject: item.subject || '(no subject)',
        time: formatTime(item.createdAt),
        reason: describeReasons(item.reasons),
        expires: formatTime(quarantineExpiresAt(lifetime, item.createdAt, item.reasons)),
        releaseUrl: link('release', item),
        allowUrl: link('allow', item),
        deleteUrl: link('delete', item),
      })),
    };
  }
}

export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
