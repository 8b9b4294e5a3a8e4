import { Type, type Static } from 'typebox';

/** The protocol version that added the scanner's counters to the heartbeat (`metrics`): sent only on links that speak it. */
export const METRICS_PROTOCOL_VERSION = 6;
/** Upper bounds that keep a heartbeat small whatever the traffic (label values are closed vocabularies). */
export const MAX_REPORTED_REASON_KINDS = 64;
export const MAX_REPORTED_REFUSAL_CODES = 64;

const Count = Type.Integer({ minimum: 0 });
const Verdict = Type.Union([Type.Literal('deliver'), Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')]);

/**
 * One scanner's cumulative counters since its process started (`startedAt`): they only grow
 * within a run and start again from zero at a restart, as a Prometheus target's counters do.
 * Besides them, gauges of now: the relay queue's oldest message and the disk its budgets bound.
 * The master serves them per node (scanners dial out and may sit behind NAT).
 */
export const NodeMetricsSchema = Type.Object(
  {
    startedAt: Type.Integer({ minimum: 0, description: 'When this run\'s counters started (ms since the epoch); a new value means they were reset.' }),
    messages: Type.Array(
      Type.Object({ verdict: Verdict, count: Count }, { additionalProperties: false }),
      { maxItems: 4, description: 'Messages received (DATA) by verdict; envelope refusals are in `refusals`.' },
    ),
    reasons: Type.Array(
      Type.Object(
        { verdict: Verdict, kind: Type.String({ maxLength: 32, pattern: '^[a-z0-9_-]+$' }), count: Count },
        { additionalProperties: false },
      ),
      { maxItems: MAX_REPORTED_REASON_KINDS, description: 'Messages by verdict that carried at least one reason of this kind (ip-list, content, analyzer, virus…).' },
    ),
    sessions: Type.Integer({ minimum: 0, description: 'SMTP sessions opened (connections).' }),
    refusals: Type.Array(
      Type.Object(
        {
          stage: Type.Union([Type.Literal('connect'), Type.Literal('mail'), Type.Literal('rcpt'), Type.Literal('data')]),
          code: Type.Integer({ minimum: 400, maximum: 599 }),
          count: Count,
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_REPORTED_REFUSAL_CODES, description: 'SMTP replies of 4xx or 5xx that Moat sent, by stage and basic code (one per refused recipient at RCPT).' },
    ),
    relay: Type.Object(
      { delivered: Count, deferred: Count, bounced: Count },
      { additionalProperties: false, description: 'Recipients by the outcome of each delivery attempt (a recipient deferred twice counts twice).' },
    ),
    queueOldestSeconds: Type.Number({ minimum: 0, description: 'Age of the oldest message in the relay queue (0 when empty), by the scanner\'s clock.' }),
    disk: Type.Object(
      {
        quarantineBytes: Count,
        quarantineMaxBytes: Count,
        retainedBytes: Count,
        retainedMaxBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'Absent while retention is off.' })),
      },
      { additionalProperties: false, description: 'Bytes held in the quarantine and the retained copies, and their budgets (`quarantine.maxBytes`, `retention.maxBytes` in the rules).' },
    ),
  },
  { additionalProperties: false },
);
export type NodeMetrics = Static<typeof NodeMetricsSchema>;
