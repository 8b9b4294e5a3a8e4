import { Type, type Static } from 'typebox';

/** The master's own server configuration (its YAML file). Rules live in its database. */
export const MasterConfigSchema = Type.Object(
  {
    node: Type.Object(
      { name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'This master\'s name in logs.' }) },
      { additionalProperties: false, default: { name: 'master' } },
    ),
    dataDir: Type.String({ minLength: 1, description: 'Folder for the master database.' }),
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
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Object(
      {
        joinSecret: Type.Optional(Type.String({ minLength: 16, description: 'Shared secret a new scanner presents once to join; or set MOAT_JOIN_SECRET.' })),
        heartbeatSeconds: Type.Number({ minimum: 0.1, default: 5, description: 'Heartbeat interval both ways.' }),
        offlineAfterMissed: Type.Integer({ minimum: 1, default: 3, description: 'Missed heartbeats before a node is marked offline.' }),
        requestTimeoutSeconds: Type.Number({ minimum: 0.1, default: 15, description: 'Time-out of a request to a scanner (fetch, release, delete).' }),
      },
      { additionalProperties: false, default: {} },
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
        loginAttemptsPerMinute: Type.Integer({ minimum: 1, default: 10, description: 'Failed logins allowed per client address and per user name per minute.' }),
        secureCookie: Type.Boolean({ default: false, description: 'Mark the session cookie Secure (set when serving HTTPS).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      { level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], { default: 'info', description: 'JSON log lines on stdout at this level and above.' }) },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type MasterConfig = Static<typeof MasterConfigSchema>;
