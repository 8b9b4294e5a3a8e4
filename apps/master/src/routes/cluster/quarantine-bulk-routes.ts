import { randomBytes } from 'node:crypto';
import { Type, type Static } from 'typebox';
import type { AppDeps, Principal } from '../../app-deps.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { getQuarantined, markQuarantine, searchQuarantine, type QuarantineEntry } from '../../data/quarantine-repository.ts';
import { MAX_PAGE } from '../../data/search-filters.ts';
import { TIME_INPUT_PATTERN } from '../../data/time-input.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses, iso, isoOrNull } from '../../http/schemas.ts';
import { readLearnMessage, teach } from '../../learn/learn-service.ts';
import type { TypedApp } from '../data/typed-app.ts';
import { queryTime } from '../data/query-inputs.ts';

/** Most messages one job takes; a bigger search is a 400 asking for a narrower one. */
export const MAX_BULK_MESSAGES = 50_000;
/** Finished jobs kept for GET (the newest); running ones are always kept. */
const KEEP_FINISHED = 100;
/** Failures listed in a job's answer (all are counted). */
const MAX_LISTED_FAILURES = 200;

const TimeInput = (description: string) => Type.String({ pattern: TIME_INPUT_PATTERN, description: `${description} Epoch milliseconds or ISO 8601 (UTC unless a zone is given).` });
const Address = (who: string) => Type.String({ minLength: 1, maxLength: 512, description: `${who} address, or \`@domain\`; see \`match\`.` });

const BulkSearch = Type.Object(
  {
    sender: Type.Optional(Address('Sender')),
    recipient: Type.Optional(Address('Recipient')),
    match: Type.Optional(Type.Union([Type.Literal('exact'), Type.Literal('contains')], { description: 'As in GET /quarantine: `exact` (default) or `contains`.' })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Part of the subject, case-insensitive.' })),
    node: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Only messages held by this node (name or id).' })),
    from: Type.Optional(TimeInput('Only messages quarantined at or after this time.')),
    to: Type.Optional(TimeInput('Only messages quarantined before this time.')),
  },
  { additionalProperties: false, description: 'The search of GET /quarantine (held messages only); every held message it matches is acted on.' },
);
const BulkBody = Type.Object(
  {
    action: Type.Union([Type.Literal('release'), Type.Literal('delete'), Type.Literal('spam')], {
      description: '`release` (its node relays it; an admin\'s release also teaches every scanner *not spam*, as the single release does), `delete`, or `spam` (admin: teach every scanner the message is spam, as POST /messages/{nodeId}/{id}/learn does; it stays held).',
    }),
    search: BulkSearch,
  },
  { additionalProperties: false },
);
type BulkBodyT = Static<typeof BulkBody>;

const JobSchema = Type.Object({
  id: Type.String({ description: 'The job id.' }),
  action: Type.String(),
  search: Type.Record(Type.String(), Type.String(), { description: 'The search as given.' }),
  state: Type.Union([Type.Literal('running'), Type.Literal('done')]),
  total: Type.Integer({ description: 'Held messages the search matched when the job started.' }),
  done: Type.Integer({ description: 'Messages handled so far, failed ones included.' }),
  ok: Type.Integer({ description: 'Messages the action succeeded on.' }),
  failed: Type.Integer({ description: 'Messages it failed on.' }),
  failures: Type.Array(
    Type.Object({ id: Type.String(), node: Type.String(), subject: Type.String(), error: Type.String({ description: 'Why: e.g. the node is offline, or the message was no longer held.' }) }),
    { description: `The failures, at most ${MAX_LISTED_FAILURES}.` },
  ),
  by: Type.String({ description: 'Who started it.' }),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

interface Job {
  readonly id: string;
  readonly action: BulkBodyT['action'];
  readonly search: Record<string, string>;
  state: 'running' | 'done';
  readonly total: number;
  done: number;
  ok: number;
  failed: number;
  readonly failures: Array<{ id: string; node: string; subject: string; error: string }>;
  readonly by: string;
  readonly startedAt: number;
  finishedAt: number | null;
}

/**
 * Bulk actions on the quarantine, run by the master: every held message a search matches is
 * released, deleted or taught as spam, one after another over the link to the node that holds
 * it. The job lives in the master's memory (a restart loses the progress record, not the work
 * done: each message's new status is stored as it goes). Each message is audited as the single
 * action is (with the job id), and the job once at the start and once at the end with its counts.
 */
export function registerQuarantineBulkRoutes(app: TypedApp, hub: ClusterHub, deps: AppDeps): void {
  const jobs = new Map<string, Job>();

  app.post(
    '/quarantine/bulk',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Release, delete or mark as spam every held message a search matches, as a job on the master',
        description: `Answers 202 with the job at once; follow it with GET /quarantine/bulk/{id}. \`spam\` needs the admin role. A search matching more than ${MAX_BULK_MESSAGES} held messages is refused (400): narrow it, e.g. by time.`,
        tags: ['quarantine'],
        body: BulkBody,
        response: { 202: JobSchema, ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const { action, search } = request.body;
      if (action === 'spam' && principal.role !== 'admin') {
        throw new ApiError(403, 'MOAT_ERR_FORBIDDEN', 'marking as spam needs the admin role', { required: 'admin', role: principal.role });
      }
      const from = bodyTime(search.from, 'from');
      const to = bodyTime(search.to, 'to');
      if (from !== undefined && to !== undefined && from >= to) throw badBody('search.from', 'must be before search.to');
      const targets = await matching({ ...search, from, to });
      const job: Job = {
        id: randomBytes(9).toString('base64url'),
        action,
        search: Object.fromEntries(Object.entries(search).filter(([, v]) => v !== undefined)) as Record<string, string>,
        state: 'running',
        total: targets.length,
        done: 0,
        ok: 0,
        failed: 0,
        failures: [],
        by: principal.username,
        startedAt: deps.now(),
        finishedAt: null,
      };
      keep(job);
      const auditLog = request.server.services.auditLog;
      const ip = request.ip;
      await auditLog.audit(principal, ip, 'quarantine.bulk.start', `job ${job.id}`, { action, search: job.search, total: job.total });
      run(job, targets, principal, auditLog, ip).catch((err: Error) => {
        job.state = 'done';
        job.finishedAt = deps.now();
        deps.log.error({ event: 'QUARANTINE_BULK_FAILED', job: job.id, error: err.message }, 'a bulk quarantine job stopped');
      });
      return reply.code(202).send(out(job));
    },
  );

  app.get(
    '/quarantine/bulk/:id',
    {
      schema: {
        summary: 'A bulk quarantine job: its progress, counts and failures with their reasons',
        tags: ['quarantine'],
        params: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{12}$', description: 'The job id POST /quarantine/bulk answered.' }) }),
        response: { 200: JobSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const job = jobs.get(request.params.id);
      if (!job) throw notFound(`bulk job ${request.params.id} (jobs live in the master's memory: it may have restarted)`);
      return out(job);
    },
  );

  /** Every held message the search matches, oldest pages last (newest first, as listed). */
  async function matching(search: Omit<BulkBodyT['search'], 'from' | 'to'> & { from?: number; to?: number }): Promise<QuarantineEntry[]> {
    const all: QuarantineEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await searchQuarantine(deps.database.db, deps.database.engine, { ...search, status: 'held', limit: MAX_PAGE, ...(cursor ? { cursor } : {}) });
      all.push(...page.items);
      if (all.length > MAX_BULK_MESSAGES) throw badBody('search', `matches more than ${MAX_BULK_MESSAGES} held messages: narrow it (e.g. by from/to)`);
      cursor = page.next ?? undefined;
    } while (cursor);
    return all;
  }

  function keep(job: Job): void {
    jobs.set(job.id, job);
    const finished = [...jobs.values()].filter((j) => j.state === 'done');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) jobs.delete(old.id);
  }

  async function run(job: Job, targets: QuarantineEntry[], principal: Principal, auditLog: AuditLog, ip: string): Promise<void> {
    for (const t of targets) {
      const target = `${t.nodeName ?? t.nodeId}/${t.id}`;
      try {
        await one(job, t, target, principal, auditLog, ip);
        job.ok++;
      } catch (err) {
        job.failed++;
        if (job.failures.length < MAX_LISTED_FAILURES) job.failures.push({ id: t.id, node: t.nodeName ?? t.nodeId, subject: t.subject.slice(0, 200), error: (err as Error).message });
      }
      job.done++;
    }
    job.state = 'done';
    job.finishedAt = deps.now();
    await auditLog.audit(principal, ip, 'quarantine.bulk.done', `job ${job.id}`, { action: job.action, search: job.search, total: job.total, ok: job.ok, failed: job.failed });
    keep(job);
  }

  async function one(job: Job, t: QuarantineEntry, target: string, principal: Principal, auditLog: AuditLog, ip: string): Promise<void> {
    // Read again: someone may have released or deleted it since the search.
    const q = await getQuarantined(deps.database.db, t.id);
    if (!q || q.nodeId !== t.nodeId) throw new Error('no longer in the quarantine index');
    if (q.status !== 'held') throw new Error(`already ${q.status}`);
    if (job.action === 'spam') {
      const message = await readLearnMessage(await hub.fetchQuarantined(q.nodeId, q.id));
      const taught = await teach(hub, { message, class: 'spam', source: 'admin', actor: principal.username, origin: { nodeId: q.nodeId, messageId: q.id } }, deps.now(), 0, deps.log);
      await auditLog.audit(principal, ip, 'learn.spam', target, { seq: taught.event.seq, digest: taught.event.digest, created: taught.created, ...(taught.event.unlearn ? { unlearn: taught.event.unlearn } : {}), subject: q.subject.slice(0, 200), from: q.mailFrom, bulk: job.id });
      return;
    }
    // As the single release: an admin's release teaches "not spam", read before the message leaves.
    let lesson;
    if (job.action === 'release' && principal.role === 'admin') {
      try {
        lesson = await readLearnMessage(await hub.fetchQuarantined(q.nodeId, q.id));
      } catch (err) {
        deps.log.warn({ event: 'LEARN_SOURCE_FAILED', nodeId: q.nodeId, queueId: q.id, error: (err as Error).message }, 'the released message could not be read to learn from; released without a lesson');
      }
    }
    await hub.quarantineAction(q.nodeId, q.id, job.action);
    await markQuarantine(deps.database.db, q.nodeId, q.id, job.action === 'release' ? 'released' : 'deleted', deps.now());
    await auditLog.audit(principal, ip, `quarantine.${job.action}`, target, { subject: q.subject.slice(0, 200), from: q.mailFrom, bulk: job.id });
    if (lesson) {
      const taught = await teach(hub, { message: lesson, class: 'ham', source: 'admin', actor: principal.username, origin: { nodeId: q.nodeId, messageId: q.id } }, deps.now(), 0, deps.log);
      await auditLog.audit(principal, ip, 'learn.ham', target, { seq: taught.event.seq, digest: taught.event.digest, created: taught.created, by: 'release', bulk: job.id });
    }
  }
}

function out(job: Job): Static<typeof JobSchema> {
  return {
    id: job.id,
    action: job.action,
    search: job.search,
    state: job.state,
    total: job.total,
    done: job.done,
    ok: job.ok,
    failed: job.failed,
    failures: [...job.failures],
    by: job.by,
    startedAt: iso(job.startedAt),
    finishedAt: isoOrNull(job.finishedAt),
  };
}

function bodyTime(value: string | undefined, field: 'from' | 'to'): number | undefined {
  try {
    return queryTime(value, field);
  } catch {
    throw badBody(`search.${field}`, 'is not a valid time');
  }
}

function badBody(field: string, message: string): ApiError {
  return new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', [{ field: `body.${field}`, message }]);
}

