import { Type, type Static } from 'typebox';
import { RetiredKey } from '@moat/config';
import { LogFormatSchema } from '@moat/config/logger';

/** The master's own server configuration (its YAML file). Rules live in its database. */
export const MasterConfigSchema = Type.Object(
  {
    node: Type.Object(
      { name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'This master\'s name in logs.' }) },
      { additionalProperties: false, default: { name: 'master' } },
    ),
    dataDir: Type.String({ minLength: 1, description: 'Folder for the master database (SQLite, the default) and the generated admin password.' }),
    database: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^postgres(ql)?://', description: 'Keep the master\'s state in PostgreSQL instead of SQLite: `postgres://moat@db1:5432,db2:5432/moat` (several hosts: a primary and its standbys under failover tooling; each connection goes to the one that takes writes). The password in the URL or in PGPASSWORD; keep this file 0600. docs/database.md.' }),
          poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'Connections this master keeps open to PostgreSQL.' }),
        },
        { additionalProperties: false, description: 'Optional: PostgreSQL for the master\'s state (without it: SQLite in dataDir).' },
      ),
    ),
    http: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address the console, REST API and cluster link listen on.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 picks a free one.' }),
        tls: Type.Optional(
          Type.Object(
            { cert: Type.String({ minLength: 1, description: 'PEM certificate chain.' }), key: Type.String({ minLength: 1, description: 'PEM private key.' }) },
            { additionalProperties: false, description: 'Optional: serve HTTPS and wss:// (scanners pin the certificate fingerprint).' },
          ),
        ),
        trustProxy: Type.Boolean({ default: false, description: 'Trust X-Forwarded-For (only behind your own reverse proxy).' }),
        peerUrl: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+/?$', description: 'Several masters on one PostgreSQL (`database.url`): the address the other masters reach this one at, to forward requests for the scanners linked here, e.g. `https://master-a.example.com:8080`. Default: `host` and the port it listens on (a wildcard host becomes this machine\'s host name). With `tls`, the others pin the certificate\'s fingerprint this master registers. Ignored with SQLite. docs/cluster.md.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Object(
      {
        joinSecret: Type.Optional(Type.String({ minLength: 16, description: 'No longer used (a standby master proved itself with it under management failover, now retired: docs/database.md); accepted so that existing configs and MOAT_JOIN_SECRET still start. Scanners join with one-time join tokens (`moat master join-token`).' })),
        heartbeatSeconds: Type.Number({ minimum: 0.1, default: 5, description: 'Heartbeat interval both ways.' }),
        offlineAfterMissed: Type.Integer({ minimum: 1, default: 3, description: 'Missed heartbeats before a node is marked offline.' }),
        requestTimeoutSeconds: Type.Number({ minimum: 0.1, default: 15, description: 'Time-out of a request to a scanner (fetch, release, delete).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    failover: RetiredKey('management failover (trigger replication, the masters\' election, epochs and the witness) was replaced by several active masters on a replicated PostgreSQL: set `database.url` and remove `failover` (docs/database.md, "High availability")'),
    rules: Type.Object(
      {
        seedFile: Type.Optional(Type.String({ minLength: 1, description: 'A rules document (YAML/JSON) stored as version 1 on the first start, when the master has no rules yet; ignored afterwards (rules are then edited with the console or `PUT /api/v1/rules`). Without it, scanners wait for the first rules an admin saves.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    admin: Type.Object(
      {
        username: Type.String({ minLength: 1, maxLength: 64, default: 'admin', description: 'The first admin user, created on first start if no user exists.' }),
        password: Type.Optional(Type.String({ minLength: 8, description: 'Its password; or set MOAT_ADMIN_PASSWORD; otherwise one is generated, stored under dataDir and printed once.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        sessionHours: Type.Number({ minimum: 0.01, default: 12, description: 'A console session expires after this long.' }),
        loginAttemptsPerMinute: Type.Integer({ minimum: 1, default: 10, description: 'Login attempts allowed per minute per client address (IPv6: per /64) and per user name and address; ten times as many per user name from addresses that never signed in to it. A right password gives its attempt back.' }),
        secureCookie: Type.Optional(Type.Boolean({ description: 'Mark the session cookies Secure. Always on when the master serves TLS (`http.tls`); set true behind a reverse proxy that terminates TLS. Unset without TLS: off, so a loopback console over plain HTTP can sign in.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    messageLog: Type.Object(
      {
        retentionDays: Type.Integer({ minimum: 0, maximum: 3650, default: 90, description: 'Keep the message log (what every scanner logged: envelope, verdict, delivery) this many whole days before today, then remove it: on PostgreSQL whole day partitions are dropped, on SQLite the rows deleted, hourly, by one master. 0 keeps it for ever. The reports\' roll-ups and the quarantine index are kept apart from it (the quarantine by its own lifetime in the rules). docs/database.md.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], { default: 'info', description: 'Log lines on stdout at this level and above.' }),
        format: LogFormatSchema,
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type MasterConfig = Static<typeof MasterConfigSchema>;
