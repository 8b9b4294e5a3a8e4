import { Type, type Static } from 'typebox';
import { LogFormatSchema } from '@moat/config/logger';
import { BalancerConfigSchema } from '@moat/balancer';
import { AnalyzersConfigSchema } from './analyzers/config-schema.ts';

/**
 * A scanner's own server configuration (its YAML file). Rules are not here: they come from the
 * rules source (a local file for now, the master later). Defaults sit beside each field and
 * bind to loopback; an unknown key is an error that names it.
 */

const Listen = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'Address to listen on.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 2525, description: 'TCP port; 0 picks a free one.' }),
  },
  { additionalProperties: false, default: {} },
);

const Tls = Type.Object(
  {
    cert: Type.String({ minLength: 1, description: 'PEM certificate chain file for STARTTLS.' }),
    key: Type.String({ minLength: 1, description: 'PEM private key file for STARTTLS.' }),
  },
  { additionalProperties: false, description: 'Optional: with it, STARTTLS is offered; without it, STARTTLS is not advertised.' },
);

const Smtp = Type.Object(
  {
    listen: Listen,
    hostname: Type.String({ minLength: 1, maxLength: 253, default: 'moat.localhost', description: 'Name in the banner and EHLO reply.' }),
    authservId: Type.Optional(Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'The authserv-id of the Authentication-Results we add (default: `hostname`); received Authentication-Results claiming it are renamed to `X-Moat-Untrusted-Authentication-Results` before delivery. Give every scanner of a cluster the same one (e.g. your domain) and have the mail server trust it.',
    })),
    tls: Type.Optional(Tls),
    trustedProxies: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Addresses allowed to send a PROXY protocol v1 header (the balancer). Empty: PROXY is off.',
    }),
    reverseDns: Type.Boolean({
      default: true,
      description: 'Look up each client\'s name as a border MTA does, from the moment it is admitted: the PTR names of its address, kept only when one resolves back to the address (forward-confirmed). The name goes in our Received line (`from <helo> (<name> [<address>])`) and to Rspamd (`Hostname`), so their reverse-DNS rules (SpamAssassin\'s `RDNS_NONE`, Rspamd\'s `HFILTER_HOSTNAME_UNKNOWN`) judge the client instead of firing on every message. Through the resolver of `analyzers.dns`; loopback clients are not looked up. `false`: no look-up, every client is unknown.',
    }),
    maxClients: Type.Integer({ minimum: 1, default: 1000, description: 'Concurrent SMTP sessions for the whole node.' }),
    maxConnectionsPerIp: Type.Integer({ minimum: 1, default: 50, description: 'Concurrent sessions from one client address (more: 421 4.7.0).' }),
    connectionRate: Type.Object(
      {
        count: Type.Integer({ minimum: 1, default: 600, description: 'New connections allowed from one address per window.' }),
        windowSeconds: Type.Integer({ minimum: 1, default: 60, description: 'Length of the connection-rate window.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    refusalLog: Type.Object(
      {
        perIpBurst: Type.Integer({ minimum: 0, maximum: 10_000, default: 10, description: 'Refused transactions (connect, MAIL FROM, RCPT TO) from one client address logged one by one to the master per window; past it they are counted into one aggregate entry per address and window. 0: aggregate all.' }),
        windowSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60, description: 'Length of the window, from an address\'s first refusal; the aggregate entry is written when it ends (also at shutdown).' }),
        maxTrackedIps: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'Client addresses tracked at once; refusals from further addresses share one aggregate entry (bounds memory under a distributed flood).' }),
      },
      { additionalProperties: false, default: {}, description: 'How refused transactions reach the master\'s message log.' },
    ),
    socketTimeoutSeconds: Type.Integer({ minimum: 1, default: 300, description: 'Idle time before a session is cut off (RFC 5321 suggests 5 minutes).' }),
    dataTimeoutSeconds: Type.Integer({ minimum: 1, default: 600, description: 'Most time a whole DATA transfer may take; a client that dribbles bytes is cut off.' }),
  },
  { additionalProperties: false, default: {} },
);

const Relay = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'The downstream mail server.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 25, description: 'Its SMTP port.' }),
    secure: Type.Boolean({ default: false, description: 'Implicit TLS (port 465 style).' }),
    requireTls: Type.Boolean({ default: false, description: 'Refuse to relay without STARTTLS.' }),
    rejectUnauthorized: Type.Boolean({ default: true, description: 'Verify the downstream certificate.' }),
    maxConnections: Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'Parallel, reused connections to downstream.' }),
    retryBaseSeconds: Type.Number({ minimum: 0.05, default: 60, description: 'First retry delay; doubles each attempt.' }),
    retryMaxSeconds: Type.Number({ minimum: 0.05, default: 3600, description: 'Largest retry delay.' }),
    maxQueueAgeSeconds: Type.Number({ minimum: 1, default: 432_000, description: 'A message still undelivered after this long is bounced (5 days).' }),
    timeoutSeconds: Type.Number({ minimum: 1, default: 60, description: 'Connection and command time-out towards downstream.' }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * The content analysis after DATA (pipeline/analyze.ts). The client waits for its reply
 * meanwhile, and RFC 5321 (4.5.3.2.6) has it wait 10 minutes at most for the reply to the end
 * of DATA: the time-out stays well below that, so a slow message gets our answer (quarantine as
 * unanalysable) rather than a dropped connection and a retry of the same message.
 */
const Analysis = Type.Object(
  {
    timeoutSeconds: Type.Number({
      minimum: 0.1,
      maximum: 300,
      default: 30,
      description: 'Most time the content analysis of one message may take; past it the message is quarantined as unanalysable (`analysis-timeout`). At most 300: the client waits at most 10 minutes for its reply to DATA.',
    }),
    maxBodyChars: Type.Integer({
      minimum: 1000,
      maximum: 100_000_000,
      default: 1_000_000,
      description: 'Characters of body text (text and HTML parts) kept for body content rules; text past it is not matched. Bounds the memory and time content rules take per message.',
    }),
    maxHeaderLines: Type.Integer({
      minimum: 10,
      maximum: 100_000,
      default: 1000,
      description: 'Top-level header lines kept for header content rules; lines past it are not matched.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const RulesSource = Type.Object(
  {
    file: Type.String({ minLength: 1, description: 'YAML/JSON rules document; reloaded when it changes. For a scanner without a master; with `master`, rules come from the master.' }),
  },
  { additionalProperties: false, description: 'Optional: local rules (stand-alone scanner). Exactly one of `rules` and `master` is required.' },
);

const Master = Type.Object(
  {
    url: Type.Union([
      Type.String({ pattern: '^wss?://' }),
      Type.Array(Type.String({ pattern: '^wss?://' }), { minItems: 1, maxItems: 16 }),
    ], { description: 'The master\'s cluster link, e.g. `wss://master.example.com:8080/cluster` (`ws://` only on loopback); with several masters on one PostgreSQL (docs/database.md) a list of their links: the scanner links to one, and when it cannot reach it tries the next in order.' }),
    joinToken: Type.Optional(Type.String({ pattern: '^moat-join-[0-9a-f]{64}$', description: 'A one-time join token for this node\'s name, made on the master (`moat master join-token`, the API or the console); or set MOAT_JOIN_TOKEN. Needed for the first join only: afterwards the node proves itself with its own key (`dataDir/node-key.pem`). Used up once the node has joined.' })),
    fingerprint: Type.Optional(Type.String({ pattern: '^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$', description: 'SHA-256 fingerprint of the master\'s TLS certificate, pinned (required with wss://).' })),
    reconnectBaseSeconds: Type.Number({ minimum: 0.05, default: 0.5, description: 'First reconnect delay; doubles per failed attempt, with jitter.' }),
    reconnectMaxSeconds: Type.Number({ minimum: 0.1, default: 30, description: 'Largest reconnect delay.' }),
    batchSize: Type.Integer({ minimum: 1, maximum: 1000, default: 500, description: 'Outbox events per batch sent to the master.' }),
    allowInsecure: Type.Boolean({ default: false, description: 'Allow a plain `ws://` link to a master that is not on loopback (refused at start otherwise, naming `master.url`): its traffic is then readable and forgeable on the way. Logged as a warning (`LINK_INSECURE`) at every start.' }),
  },
  { additionalProperties: false, description: 'Optional: join a cluster. Rules are then pushed by the master and persisted locally.' },
);

export const ScannerConfigSchema = Type.Object(
  {
    node: Type.Object(
      { name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'This node\'s name in logs and in the cluster.' }) },
      { additionalProperties: false },
    ),
    dataDir: Type.String({ minLength: 1, description: 'Folder for the database, spool, queue and quarantine.' }),
    storage: Type.Object(
      {
        minFreeMegabytes: Type.Integer({ minimum: 0, default: 256, description: 'Below this much free space on the data folder\'s file system (or right after a write failed with ENOSPC), new SMTP clients are greeted with `421 4.3.1` so the balancer and sending MTAs go elsewhere; mail already accepted is unaffected. 0: only an ENOSPC write triggers it.' }),
        checkIntervalSeconds: Type.Number({ minimum: 0.1, maximum: 3600, default: 5, description: 'How often the free space is read.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    smtp: Smtp,
    relay: Relay,
    rules: Type.Optional(RulesSource),
    master: Type.Optional(Master),
    balancer: Type.Optional(BalancerConfigSchema),
    analysis: Analysis,
    analyzers: AnalyzersConfigSchema,
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
export type ScannerConfig = Static<typeof ScannerConfigSchema>;
