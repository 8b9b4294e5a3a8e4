import { Type, type Static } from 'typebox';

/** The protocol version that added engine health to the heartbeat (`engines`): sent only on links that speak it. */
export const ENGINES_PROTOCOL_VERSION = 5;
/** Upper bound on the engines one heartbeat may report (a scanner runs at most a handful of analyzers). */
export const MAX_REPORTED_ENGINES = 16;

/** One analyzer's engine on one scanner, as its heartbeat reports it (apps/scanner/src/analyzers/engine-health.ts). */
export const EngineHealthSchema = Type.Object(
  {
    engine: Type.String({ maxLength: 32, pattern: '^[a-z0-9_-]+$', description: 'The analyzer: clamav, rspamd, spamassassin, auth, dnsbl, uribl.' }),
    state: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('unknown')], {
      description: '`up`: its last scan or health probe answered; `down`: the last one failed (see `lastError`); `unknown`: neither has run since the scanner started.',
    }),
    checkedAt: Type.Optional(Type.Integer({ minimum: 0, description: 'When its state was last learned, by a scan or a probe (ms since the epoch).' })),
    samples: Type.Integer({ minimum: 0, description: 'Scans that answered within the latency window.' }),
    windowSeconds: Type.Integer({ minimum: 1, description: 'How far back the latency figures look.' }),
    p50Ms: Type.Optional(Type.Number({ minimum: 0, description: 'Median scan time over the window (absent without a sample).' })),
    p95Ms: Type.Optional(Type.Number({ minimum: 0, description: '95th percentile scan time over the window.' })),
    errors: Type.Integer({ minimum: 0, description: 'Scans that failed within the window (each a message that went without this engine; failed probes change only `state`).' }),
    lastError: Type.Optional(
      Type.Object(
        { message: Type.String({ maxLength: 300 }), at: Type.Integer({ minimum: 0, description: 'ms since the epoch' }) },
        { additionalProperties: false, description: 'The last failure since the scanner started (kept after the engine is up again).' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type EngineHealth = Static<typeof EngineHealthSchema>;
