import { Type, type Static } from 'typebox';
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
        joinSecret: Type.Optional(Type.String({ minLength: 16, description: 'The masters\' shared secret: a standby master proves itself with it (failover only); or set MOAT_JOIN_SECRET. Scanners no longer use it: they join with one-time join tokens (`moat master join-token`).' })),
        heartbeatSeconds: Type.Number({ minimum: 0.1, default: 5, description: 'Heartbeat interval both ways.' }),
        offlineAfterMissed: Type.Integer({ minimum: 1, default: 3, description: 'Missed heartbeats before a node is marked offline.' }),
        requestTimeoutSeconds: Type.Number({ minimum: 0.1, default: 15, description: 'Time-out of a request to a scanner (fetch, release, delete).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    failover: Type.Optional(
      Type.Object(
        {
          role: Type.Union([Type.Literal('active'), Type.Literal('standby')], { default: 'standby', description: 'Without `election`: this master\'s fixed role (one active, the others standby). With `election`, every master starts as standby and the election decides.' }),
          peers: Type.Array(Type.String({ pattern: '^wss?://', description: 'Another master\'s replication link, e.g. `wss://master-b.example.com:8080/cluster/replication`.' }), { default: [], description: 'The other masters, tried in order by a standby until the active one welcomes it. The standby proves itself with `cluster.joinSecret`.' }),
          fingerprint: Type.Optional(Type.String({ pattern: '^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$', description: 'SHA-256 fingerprint of the other masters\' TLS certificate, pinned (required with wss://).' })),
          retainChanges: Type.Integer({ minimum: 100, default: 200_000, description: 'Replication log entries kept behind the head; a standby further behind gets a full copy (snapshot).' }),
          election: Type.Optional(
            Type.Object(
              {
                bind: Type.Object({ host: Type.String({ minLength: 1, description: 'This master\'s own address (IPv4).' }), port: Type.Integer({ minimum: 1, maximum: 65535, description: 'UDP port of the election.' }) }, { additionalProperties: false, description: 'UDP address of this master\'s election adverts (its IP is the tie-break on equal priority).' }),
                peers: Type.Array(Type.Object({ host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: false }), { minItems: 1, description: 'The other masters\' election UDP addresses.' }),
                priority: Type.Integer({ minimum: 1, maximum: 254, default: 100, description: 'Higher wins the election.' }),
                preempt: Type.Boolean({ default: false, description: 'A higher-priority standby takes over from a healthy active master (off: a failover happens only when the active master fails; each one moves the whole cluster).' }),
                advertIntervalMs: Type.Integer({ minimum: 10, maximum: 40_950, default: 1000, description: 'Time between the active master\'s adverts; the master-down interval is about 3 of them.' }),
                vrid: Type.Integer({ minimum: 1, maximum: 255, default: 50, description: 'Election group id; the same on every master, different from the balancer\'s.' }),
                key: Type.String({ minLength: 16, description: 'Shared secret of the adverts (HMAC-SHA256).' }),
                address: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'The management virtual address the hooks move (given to them as MOAT_HA_VIP), e.g. `10.0.0.10`; scanners then list just `wss://10.0.0.10:8080/cluster`.' })),
                hooks: Type.Object(
                  {
                    active: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run when this master became active, before it lets scanners and the API in (production: `ip addr add $MOAT_HA_VIP/24 dev eth0 && arping -U -c 3 -I eth0 $MOAT_HA_VIP`).' })),
                    standby: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run when this master stops being active, and at start (it clears an address left by a crash), e.g. `ip addr del $MOAT_HA_VIP/24 dev eth0 || true`.' })),
                    timeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'A hook still running after this long is killed (with its process group) and logged as failed.' }),
                  },
                  { additionalProperties: false, default: {}, description: 'Commands run by /bin/sh on role changes, one at a time (the balancer\'s hook runner); env: MOAT_HA_STATE (`active`/`standby`), MOAT_HA_PREVIOUS_STATE, MOAT_HA_REASON (with the epoch), MOAT_HA_VIP, MOAT_HA_PRIORITY, MOAT_HA_VRID, MOAT_HA_NODE_ID.' },
                ),
              },
              { additionalProperties: false, description: 'VRRP-style election of the active master (packages/balancer\'s election over signed UDP).' },
            ),
          ),
          witness: Type.Optional(
            Type.Object(
              {
                url: Type.String({ pattern: '^https?://', description: 'The witness (`moat witness`), e.g. `http://10.0.0.9:8090`.' }),
                key: Type.String({ minLength: 16, description: 'Secret shared with the witness.' }),
                timeoutMs: Type.Integer({ minimum: 50, default: 1000, description: 'Time-out of one vote request.' }),
              },
              { additionalProperties: false, description: 'A third vote: a master is active only while it holds the witness\'s lease for its epoch, so a partition never leaves two active masters.' },
            ),
          ),
        },
        { additionalProperties: false, description: 'Management failover (docs/masters.md): a standby master replicates the active one and takes over when it fails.' },
      ),
    ),
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
