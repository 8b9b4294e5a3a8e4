import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ConfigError } from '@moat/config';
import { createAuditLog } from '../audit/audit-log.ts';
import { ApiError, notFound } from '../http/api-error.ts';
import { handlerValidatedBody } from '../http/handler-validated-body.ts';
import { errorResponses, iso, isoOrNull } from '../http/schemas.ts';
import type { ReportRunner } from './report-runner.ts';
import { createScheduleRepository, type ScheduleRepository, type StoredSchedule } from './schedule-repository.ts';
import { ReportScheduleSchema, validateReportSchedule } from './schedule-schema.ts';

const Time = Type.String({ format: 'date-time' });
const PeriodSchema = Type.Object({ start: Type.String({ format: 'date-time', description: 'First day (UTC midnight).' }), end: Type.String({ format: 'date-time', description: 'Midnight after the last day (exclusive).' }) });
const RoundSchema = Type.Object({
  period: PeriodSchema,
  status: Type.Union([Type.Literal('sending'), Type.Literal('sent'), Type.Literal('failed')], { description: '`sending`: handed to a scanner, or interrupted by a restart (tried again); `failed`: retried after a back-off.' }),
  attempts: Type.Integer(),
  lastAttemptAt: Time,
  sentAt: Type.Union([Time, Type.Null()], { description: 'When a scanner took it into its relay queue.' }),
  nodeId: Type.Union([Type.String(), Type.Null()], { description: 'The scanner that relays it.' }),
  queueId: Type.Union([Type.String(), Type.Null()], { description: 'Its id in that scanner\'s queue (the queue page and message log show it).' }),
  recipients: Type.Array(Type.String()),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last attempt failed.' }),
});
const ScheduleView = Type.Object({
  id: Type.String(),
  schedule: ReportScheduleSchema,
  createdAt: Time,
  updatedAt: Time,
  updatedBy: Type.String(),
  nextRunAt: Type.Union([Time, Type.Null()], { description: 'When the next scheduled round is due (in the past: due now, or waiting to be retried); null while disabled.' }),
  rounds: Type.Array(RoundSchema, { description: 'The latest scheduled rounds, newest first (at most 10).' }),
});
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'The schedule\'s id.' }) });
const TAGS = ['scheduled reports'];
const INVALID = 'Invalid: 400 MOAT_ERR_REPORT_SCHEDULE_INVALID with `details` as `{ field, message }` naming each key of the schedule (`recipients.0`); nothing is stored.';

/** Parse a schedule body, or a 400 naming each bad key. */
function parse(body: unknown) {
  try {
    return validateReportSchedule(body);
  } catch (err) {
    if (err instanceof ConfigError) throw new ApiError(400, 'MOAT_ERR_REPORT_SCHEDULE_INVALID', 'the report schedule is invalid; nothing was stored', err.errors.map((e) => ({ field: e.key, message: e.message })));
    throw err;
  }
}

/**
 * Scheduled reports by mail (registered under /api/v1): the schedules, and *send now*. Admin
 * only, since a schedule mails the cluster's figures to any address; every change is audited.
 */
export function reportScheduleRoutes(repo: ScheduleRepository, runner: ReportRunner, now: () => number): FastifyPluginAsyncTypebox {
  return async (app) => {
    const view = async (s: StoredSchedule) => ({
      id: s.id, schedule: s.schedule, createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt), updatedBy: s.updatedBy, nextRunAt: isoOrNull(await runner.nextDueAt(s)),
      rounds: (await repo.recentRounds(s.id, 10)).map((r) => ({
        period: { start: iso(r.period.start), end: iso(r.period.end) }, status: r.status, attempts: r.attempts, lastAttemptAt: iso(r.lastAttemptAt),
        sentAt: isoOrNull(r.sentAt), nodeId: r.nodeId, queueId: r.queueId, recipients: [...r.recipients], error: r.error,
      })),
    });
    const existing = async (id: string) => (await repo.get(id)) ?? (() => { throw notFound('report schedule'); })();
    /** A change and its audit entry in one transaction: stored together or not at all. */
    const change = <T>(request: FastifyRequest, action: string, run: (trx: ScheduleRepository) => Promise<{ target: string; details: Record<string, unknown>; result: T }>) =>
      app.deps.database.db.transaction().execute(async (trx) => {
        const done = await run(createScheduleRepository(trx));
        await createAuditLog(trx, now).audit(request.principal!, request.ip, action, done.target, done.details);
        return done.result;
      });

    app.get('/reports/schedules', {
      config: { role: 'admin' },
      schema: { summary: 'Scheduled reports', tags: TAGS, response: { 200: Type.Object({ items: Type.Array(ScheduleView) }), ...errorResponses() } },
    }, async () => ({ items: await Promise.all((await repo.list()).map(view)) }));

    app.post('/reports/schedules', {
      config: { role: 'admin' },
      validatorCompiler: handlerValidatedBody,
      schema: { summary: 'Add a scheduled report', description: `Keys left out take their defaults. ${INVALID}`, tags: TAGS, body: ReportScheduleSchema, response: { 201: ScheduleView, ...errorResponses(400) } },
    }, async (request, reply) => {
      const schedule = parse(request.body);
      const created = await change(request, 'reports.schedule.create', async (trx) => {
        const made = await trx.create(schedule, request.principal!.username, now());
        return { target: `report-schedule:${made.id}`, details: { name: made.schedule.name, period: made.schedule.period, recipients: made.schedule.recipients.length }, result: made };
      });
      return reply.code(201).send(await view(created));
    });

    app.get('/reports/schedules/:id', {
      config: { role: 'admin' },
      schema: { summary: 'One scheduled report with its latest rounds', tags: TAGS, params: IdParams, response: { 200: ScheduleView, ...errorResponses(400, 404) } },
    }, async (request) => view(await existing(request.params.id)));

    app.put('/reports/schedules/:id', {
      config: { role: 'admin' },
      validatorCompiler: handlerValidatedBody,
      schema: { summary: 'Replace a scheduled report', description: `The whole schedule; keys left out take their defaults. Rounds already sent stay sent. ${INVALID}`, tags: TAGS, params: IdParams, body: ReportScheduleSchema, response: { 200: ScheduleView, ...errorResponses(400, 404) } },
    }, async (request) => {
      const schedule = parse(request.body);
      const id = request.params.id;
      await change(request, 'reports.schedule.update', async (trx) => {
        const before = (await trx.get(id)) ?? (() => { throw notFound('report schedule'); })();
        await trx.update(id, schedule, request.principal!.username, now());
        const changed = Object.keys(schedule).filter((k) => JSON.stringify(schedule[k as keyof typeof schedule]) !== JSON.stringify(before.schedule[k as keyof typeof schedule]));
        return { target: `report-schedule:${id}`, details: { name: schedule.name, changed, enabled: schedule.enabled }, result: undefined };
      });
      return view(await existing(id));
    });

    app.delete('/reports/schedules/:id', {
      config: { role: 'admin' },
      schema: { summary: 'Delete a scheduled report and the record of its rounds', tags: TAGS, params: IdParams, response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses(400, 404) } },
    }, async (request, reply) => {
      const id = request.params.id;
      await change(request, 'reports.schedule.delete', async (trx) => {
        const s = (await trx.get(id)) ?? (() => { throw notFound('report schedule'); })();
        await trx.delete(id);
        return { target: `report-schedule:${id}`, details: { name: s.schedule.name }, result: undefined };
      });
      return reply.code(204).send(null);
    });

    app.post('/reports/schedules/:id/send', {
      config: { role: 'admin' },
      schema: {
        summary: 'Send the report now (to test it)',
        description: 'The last whole day (daily) or seven days (weekly) that have ended, to the schedule\'s recipients, enabled or not. It is not a scheduled round: that one is still sent when due. 503 MOAT_ERR_NODE_OFFLINE when no scanner is online to relay it.',
        tags: TAGS,
        params: IdParams,
        response: {
          200: Type.Object({ period: PeriodSchema, nodeId: Type.String({ description: 'The scanner relaying it.' }), queueId: Type.String({ description: 'Its id in that scanner\'s queue.' }), recipients: Type.Array(Type.String()) }),
          ...errorResponses(400, 404),
          503: Type.Unknown({ description: 'No scanner online to relay it (MOAT_ERR_NODE_OFFLINE).' }),
        },
      },
    }, async (request) => {
      const s = await existing(request.params.id);
      const sent = await runner.sendNow(s);
      await request.audit('reports.send', `report-schedule:${s.id}`, { name: s.schedule.name, periodStart: iso(sent.period.start), nodeId: sent.nodeId, queueId: sent.queueId, recipients: sent.recipients.length });
      return { period: { start: iso(sent.period.start), end: iso(sent.period.end) }, nodeId: sent.nodeId, queueId: sent.queueId, recipients: [...sent.recipients] };
    });
  };
}
