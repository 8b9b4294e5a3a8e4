import { Type } from 'typebox';
import type { AppDeps } from '../../app-deps.ts';
import { toCsv } from '../../data/csv.ts';
import { quarantineSize, top, traffic } from '../../data/reports.ts';
import { TOP_KINDS } from '../../data/rollups.ts';
import { bucketMs, ceilTo, DAY_MS, floorTo } from '../../data/time-buckets.ts';
import { errorResponses, iso } from '../../http/schemas.ts';
import { fileStamp, FormatSchema, reportResponse, sendCsv } from './csv-reply.ts';
import { badQuery, reportRange } from './query-inputs.ts';
import { TIME_INPUT_PATTERN } from '../../data/time-input.ts';
import type { TypedApp } from './typed-app.ts';

/** Reports read the roll-ups, so they cost the same on a quiet day and a busy month. */

const DEFAULT_DAYS = 7;
const RangeTime = (description: string) => Type.Optional(Type.String({ pattern: TIME_INPUT_PATTERN, description: `${description} Epoch ms or ISO 8601 (UTC unless a zone is given).` }));
const rangeFields = {
  from: RangeTime(`Start (default: ${DEFAULT_DAYS} days before \`to\`); rounded down to the bucket.`),
  to: RangeTime('End, exclusive (default: now); rounded up to the bucket.'),
  format: FormatSchema,
};

const TrafficRowSchema = Type.Object({
  start: Type.String({ format: 'date-time', description: 'Start of the bucket (UTC).' }),
  nodeId: Type.Optional(Type.String({ description: 'The node (only with byNode=true).' })),
  deliver: Type.Integer({ description: 'Messages delivered.' }),
  tag: Type.Integer({ description: 'Messages tagged and delivered.' }),
  quarantine: Type.Integer({ description: 'Messages quarantined.' }),
  reject: Type.Integer({ description: 'Messages rejected.' }),
  total: Type.Integer({ description: 'All messages.' }),
  bytes: Type.Integer({ description: 'Their total size.' }),
});
const TopKindSchema = Type.Union(TOP_KINDS.map((k) => Type.Literal(k)), {
  description: 'sender, sender_domain, recipient, blocked_sender (senders of rejected mail); from the reasons in the log: virus (signature names), spf_fail (MAIL FROM domains whose SPF gave fail or softfail), dkim_fail (signing domains whose DKIM signature failed), dmarc_fail (From domains failing DMARC).',
});

export function registerReportRoutes(app: TypedApp, deps: AppDeps): void {
  app.get(
    '/reports/traffic',
    {
      schema: {
        summary: 'Messages per action per hour or day (optionally per node)',
        tags: ['reports'],
        querystring: Type.Object(
          {
            ...rangeFields,
            bucket: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'hour', description: 'Bucket size (UTC).' })),
            node: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Only this node (name or id).' })),
            byNode: Type.Optional(Type.Boolean({ default: false, description: 'One row per bucket and node.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: reportResponse(Type.Object({
            bucket: Type.String({ description: 'hour or day.' }),
            from: Type.String({ format: 'date-time', description: 'Start of the first bucket.' }),
            to: Type.String({ format: 'date-time', description: 'End of the last bucket (exclusive).' }),
            rows: Type.Array(TrafficRowSchema, { description: 'Every bucket of the range, oldest first, zeros included.' }),
          })),
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const bucket = q.bucket ?? 'hour';
      const range = reportRange(q, deps.now(), DEFAULT_DAYS);
      let rows;
      try {
        rows = await traffic(deps.database.db, { ...range, bucket, byNode: q.byNode ?? false, ...(q.node === undefined ? {} : { node: q.node }) });
      } catch (err) {
        if (err instanceof RangeError) throw badQuery('from', err.message);
        throw err;
      }
      const size = bucketMs(bucket);
      const from = floorTo(range.from, size);
      const to = ceilTo(range.to, size);
      const out = rows.map((r) => ({ ...r, start: iso(r.start) }));
      if (q.format === 'csv') {
        const columns = q.byNode ? (['start', 'nodeId', 'deliver', 'tag', 'quarantine', 'reject', 'total', 'bytes'] as const) : (['start', 'deliver', 'tag', 'quarantine', 'reject', 'total', 'bytes'] as const);
        return sendCsv(reply, toCsv(out, columns), `moat-traffic-${bucket}-${fileStamp(from)}-${fileStamp(to)}.csv`);
      }
      return { bucket, from: iso(from), to: iso(to), rows: out };
    },
  );

  app.get(
    '/reports/top/:kind',
    {
      schema: {
        summary: 'Top senders, sender domains, recipients, blocked senders, virus names or domains failing SPF/DKIM/DMARC over whole days',
        tags: ['reports'],
        params: Type.Object({ kind: TopKindSchema }),
        querystring: Type.Object(
          {
            ...rangeFields,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'How many, at most 1000.' })),
            node: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Only this node (name or id). Counts from before version 15 of the database belong to no node.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: reportResponse(Type.Object({
            kind: TopKindSchema,
            from: Type.String({ format: 'date-time', description: 'Start of the first day (UTC).' }),
            to: Type.String({ format: 'date-time', description: 'End of the last day (exclusive).' }),
            rows: Type.Array(Type.Object({
              value: Type.String({ description: 'The address or domain (lower-cased; empty for the null sender or an unnamed domain), or the virus name.' }),
              count: Type.Integer({ description: 'Messages (for recipients: messages addressed to it).' }),
            }), { description: 'Busiest first.' }),
          })),
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      const { kind } = request.params;
      const q = request.query;
      const range = reportRange(q, deps.now(), DEFAULT_DAYS);
      const rows = await top(deps.database.db, { kind, ...range, limit: q.limit ?? 20, ...(q.node === undefined ? {} : { node: q.node }) });
      const from = floorTo(range.from, DAY_MS);
      const to = ceilTo(range.to, DAY_MS);
      if (q.format === 'csv') return sendCsv(reply, toCsv(rows, ['value', 'count']), `moat-top-${kind}-${fileStamp(from)}-${fileStamp(to)}.csv`);
      return { kind, from: iso(from), to: iso(to), rows };
    },
  );

  app.get(
    '/reports/quarantine',
    {
      schema: {
        summary: 'Messages held in quarantine now, and their size, per node',
        tags: ['reports'],
        querystring: Type.Object({ format: FormatSchema }, { additionalProperties: false }),
        response: {
          200: reportResponse(Type.Object({
            count: Type.Integer({ description: 'Messages held, all nodes.' }),
            bytes: Type.Integer({ description: 'Their total size.' }),
            nodes: Type.Array(Type.Object({
              nodeId: Type.String({ description: 'The node holding them.' }),
              nodeName: Type.Union([Type.String(), Type.Null()], { description: 'Its name (null if no longer registered).' }),
              count: Type.Integer({ description: 'Messages held there.' }),
              bytes: Type.Integer({ description: 'Their size.' }),
            }), { description: 'Nodes that hold at least one message.' }),
          })),
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      const size = await quarantineSize(deps.database.db);
      if (request.query.format === 'csv') return sendCsv(reply, toCsv(size.nodes, ['nodeId', 'nodeName', 'count', 'bytes']), `moat-quarantine-${fileStamp(deps.now())}.csv`);
      return size;
    },
  );
}
