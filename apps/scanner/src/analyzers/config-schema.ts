import { Type } from 'typebox';

/** The `analyzers:` section of the scanner config. Each analyzer is off unless its key is present. */

const HeuristicAction = (what: string) =>
  Type.Union([Type.Literal('off'), Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')], {
    default: 'off',
    description: `${what}: \`off\` delivers as if clean (the finding is still recorded, score 0), else that action (not a virus; an allow-listed sender skips it).`,
  });

const ClamavHeuristics = Type.Object(
  {
    macros: HeuristicAction('An Office document with VBA macros (`Heuristics.OLE2.ContainsMacros*`, reason `clamav.macros`; clamd needs `AlertOLE2Macros yes`)'),
    encrypted: HeuristicAction('An encrypted archive or document that cannot be scanned (`Heuristics.Encrypted.*`, reason `clamav.encrypted`; clamd needs `AlertEncrypted yes`)'),
  },
  { additionalProperties: false, default: {}, description: 'clamd\'s heuristic findings as policy, not as viruses. clamd reports them only with the matching `Alert*` option on, and a real virus in the same message still wins (clamd\'s default `HeuristicScanPrecedence no`).' },
);

const Clamav = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'clamd\'s TCP address (`TCPAddr`).' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 3310, description: 'clamd\'s TCP port (`TCPSocket`).' }),
    socket: Type.Optional(Type.String({ minLength: 1, description: 'clamd\'s unix socket (`LocalSocket`); when set, used instead of host and port.' })),
    timeoutSeconds: Type.Number({ minimum: 0.05, default: 30, description: 'Most time one scan may take, connect included; then the `onUnavailable` policy applies.' }),
    action: Type.Union([Type.Literal('quarantine'), Type.Literal('reject')], { default: 'quarantine', description: 'What a virus does to the message; it beats every allow-list.' }),
    onUnavailable: Type.Union([Type.Literal('temp-fail'), Type.Literal('pass')], {
      default: 'temp-fail',
      description: 'clamd unreachable, erroring or timing out: `temp-fail` answers 451 4.3.0 (the client retries); `pass` delivers with `X-Moat-Virus-Scan: unavailable`.',
    }),
    streamMaxBytes: Type.Integer({
      minimum: 1,
      default: 26_214_400,
      description: 'Set to clamd\'s `StreamMaxLength` (Debian: 25M). A bigger message is not sent (clamd would cut it off and reset the connection) and `onTooLarge` applies.',
    }),
    onTooLarge: Type.Union([Type.Literal('quarantine'), Type.Literal('pass')], {
      default: 'quarantine',
      description: 'A message past clamd\'s `StreamMaxLength` cannot be scanned: hold it in quarantine, or pass it with `X-Moat-Virus-Scan: not scanned (too large)`.',
    }),
    heuristics: ClamavHeuristics,
  },
  { additionalProperties: false, description: 'Optional: virus scanning with ClamAV\'s daemon over INSTREAM.' },
);

const Dns = Type.Object(
  {
    servers: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'DNS servers (`192.0.2.53`, `127.0.0.1:5353`, `[::1]:53`); empty: the system\'s resolv.conf.' }),
    timeoutMs: Type.Integer({ minimum: 10, default: 2000, description: 'Time-out of one DNS try.' }),
    tries: Type.Integer({ minimum: 1, maximum: 5, default: 2, description: 'Tries per server before a query fails (temperror for SPF/DKIM/DMARC, not listed for a DNSBL).' }),
    cacheSeconds: Type.Integer({ minimum: 0, default: 3600, description: 'An answer is cached for its TTL (the smallest of the records used), at most this long (0: no cache). Time-outs and server failures are never cached.' }),
    negativeCacheSeconds: Type.Integer({ minimum: 0, default: 300, description: 'NXDOMAIN and NODATA are cached for the negative TTL of the zone\'s SOA (RFC 2308), at most this long; this long when the answer has no SOA (0: not cached).' }),
    cacheEntries: Type.Integer({ minimum: 0, default: 10_000, description: 'Most cached answers; the oldest go first.' }),
  },
  { additionalProperties: false, default: {}, description: 'The one DNS resolver of the `auth`, `dnsbl` and `uribl` analyzers and of the client\'s name at connect (`smtp.reverseDns`).' },
);

const Auth = Type.Object(
  {
    timeoutSeconds: Type.Number({ minimum: 0.05, default: 15, description: 'Most time SPF, DKIM, DMARC and ARC may take together.' }),
    onUnavailable: Type.Union([Type.Literal('pass'), Type.Literal('temp-fail')], {
      default: 'pass',
      description: 'Past the time-out: `pass` goes on without results (`X-Moat-Auth: unavailable`), `temp-fail` answers 451 4.3.0. DNS errors inside the checks are temperror results, not a failure of the analyzer.',
    }),
  },
  { additionalProperties: false, description: 'Optional: sender authentication (SPF on the real client address, MAIL FROM and HELO; DKIM; DMARC; ARC) with mailauth. Adds Authentication-Results; the rules\' `authentication` section scores the results.' },
);

const Code = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: 64, description: 'What the return code means (in the reason).' }),
    weight: Type.Optional(Type.Number({ minimum: -1000, maximum: 1000, description: 'Score for this code; default: the zone\'s weight.' })),
  },
  { additionalProperties: false },
);

const Zone = Type.Object(
  {
    zone: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9.-]+$', description: 'The list\'s DNS zone, e.g. `zen.spamhaus.org`.' }),
    weight: Type.Number({ minimum: -1000, maximum: 1000, description: 'Score added when the client is listed.' }),
    codes: Type.Optional(
      Type.Record(Type.String({ pattern: '^127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$' }), Code, {
        description: 'Return codes this zone uses (`127.0.0.2: { label: SBL, weight: 5 }`); with it, other codes are ignored.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Dnsbl = Type.Object(
  {
    timeoutSeconds: Type.Number({ minimum: 0.05, default: 5, description: 'Most time all zone look-ups may take; then the message goes on as not listed (a DNSBL is a score, never a reason to temp-fail).' }),
    zones: Type.Array(Zone, {
      minItems: 1,
      maxItems: 50,
      description: 'Zones to query for the client address, each `{ zone, weight, codes? }`. Only answers in 127.0.0.0/8 count (others, e.g. a resolver refusal, are ignored).',
    }),
  },
  { additionalProperties: false, description: 'Optional: DNS blocklists for the client address (IPv4 and IPv6).' },
);

const Uribl = Type.Object(
  {
    timeoutSeconds: Type.Number({ minimum: 0.05, default: 5, description: 'Most time reading the links and all look-ups may take; then the message goes on as not listed.' }),
    maxDomains: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Most distinct link domains looked up per message (the first found); each is queried as found and as its registrable part.' }),
    maxTextChars: Type.Integer({ minimum: 1000, default: 1_000_000, description: 'Characters of text and HTML read for links per message.' }),
    skipDomains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [], description: 'Domains (and their subdomains) never looked up, e.g. your own.' }),
    zones: Type.Array(Zone, {
      minItems: 1,
      maxItems: 20,
      description: 'URI blocklist zones (e.g. `dbl.spamhaus.org`, `multi.surbl.org`), each `{ zone, weight, codes? }`, queried as `<domain>.<zone>`; only answers in 127.0.0.0/8 count.',
    }),
  },
  { additionalProperties: false, description: 'Optional: URI blocklists (URIBL/DBL) for the domains of links in the text and HTML parts, through the same resolver as `dnsbl`.' },
);

const SpamAction = Type.Union([Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')]);

const Rspamd = Type.Object(
  {
    url: Type.String({ minLength: 1, pattern: '^https?://', default: 'http://127.0.0.1:11333', description: 'Base URL of Rspamd\'s normal worker; `/checkv2` is appended.' }),
    timeoutSeconds: Type.Number({ minimum: 0.05, default: 10, description: 'Most time one check may take, connect and upload included; then the `onUnavailable` policy applies.' }),
    onUnavailable: Type.Union([Type.Literal('pass'), Type.Literal('temp-fail')], {
      default: 'pass',
      description: 'Rspamd unreachable, erroring or timing out: `pass` delivers with `X-Moat-Spam-Scan: unavailable` (reason `rspamd.unavailable`, score 0); `temp-fail` answers 451 4.3.0.',
    }),
    scoreWeight: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'When set, each Rspamd signal\'s points (`rspamd`, `rspamd.bayes`, `rspamd.fuzzy`) times this is its extra score (0: recorded only), instead of the detection model\'s calibrated weights (docs/detection.md). Leave unset unless you re-calibrate.' })),
    actions: Type.Object(
      {
        reject: Type.Optional(SpamAction),
        'soft reject': Type.Optional(SpamAction),
        'rewrite subject': Type.Optional(SpamAction),
        'add header': Type.Optional(SpamAction),
        greylist: Type.Optional(SpamAction),
      },
      {
        additionalProperties: false,
        default: {},
        description: 'What an Rspamd action asks of the verdict (`tag`, `quarantine` or `reject`; the strongest action of all reasons wins). None by default: Moat decides on its own score scale, and an engine\'s action overrides it only where you map it here.',
      },
    ),
    password: Type.Optional(Type.String({ minLength: 1, description: 'Sent as the `Password` header, when the worker requires one.' })),
    maxBytes: Type.Integer({ minimum: 1, default: 20_971_520, description: 'A bigger message is not sent (Rspamd\'s `max_message`, 50 MB by default); it gets reason `rspamd.skipped`, score 0.' }),
    controllerUrl: Type.Optional(Type.String({ minLength: 1, pattern: '^https?://', description: 'Base URL of Rspamd\'s controller worker (`/learnspam`, `/learnham`, `/fuzzyadd`, `/fuzzydel`): learn events from the master teach this Rspamd\'s Bayes (and fuzzy storage). Absent: this node\'s Rspamd is not taught.' })),
    controllerPassword: Type.Optional(Type.String({ minLength: 1, description: 'The controller\'s `password`, sent as the `Password` header (not needed from an address in its `secure_ip`).' })),
    fuzzy: Type.Boolean({ default: false, description: 'Also teach Rspamd\'s fuzzy storage: spam is added (`/fuzzyadd`, flag 1), a reversal to ham deletes it (`/fuzzydel`). Needs a `fuzzy_check` rule that may write to this node\'s own fuzzy storage worker.' }),
  },
  { additionalProperties: false, description: 'Optional: spam scoring by Rspamd\'s HTTP scanning API (`/checkv2`). GTUBE is rejected with or without it (built into the rules).' },
);

const Spamassassin = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'spamd\'s TCP address (`--listen`).' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 783, description: 'spamd\'s TCP port.' }),
    socket: Type.Optional(Type.String({ minLength: 1, description: 'spamd\'s unix socket (`--socketpath`, or `--listen` of a path); when set, used instead of host and port.' })),
    timeoutSeconds: Type.Number({ minimum: 0.05, default: 15, description: 'Most time one check may take, connect and upload included; then the `onUnavailable` policy applies.' }),
    onUnavailable: Type.Union([Type.Literal('pass'), Type.Literal('temp-fail')], {
      default: 'pass',
      description: 'spamd unreachable, erroring or timing out: `pass` delivers with `X-Moat-Spam-Scan: unavailable` (reason `spamassassin.unavailable`, score 0); `temp-fail` answers 451 4.3.0.',
    }),
    scoreWeight: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'When set, each SpamAssassin signal\'s points (`spamassassin`, `spamassassin.bayes`) times this is its extra score (0: recorded only), instead of the detection model\'s calibrated weights (docs/detection.md). Leave unset unless you re-calibrate.' })),
    maxBytes: Type.Integer({ minimum: 1, default: 512_000, description: 'A bigger message is not sent (spamc\'s own limit is 500 KB); it gets reason `spamassassin.skipped`, score 0.' }),
    skipWhenRspamdSure: Type.Boolean({ default: true, description: 'With `rspamd` configured too: ask Rspamd first and leave spamd out when Rspamd alone settles the message as good mail (its trained Bayes votes ham at least as surely as the detection model\'s limit, its other symbols stay under the model\'s limit, no fuzzy match of reported spam); reason `spamassassin.skipped`, score 0. The limits were measured on the calibration corpus with no verdict changed (docs/detection.md). false: both engines are always asked, side by side.' }),
  },
  {
    additionalProperties: false,
    description: 'Optional: spam scoring by SpamAssassin\'s spamd (SPAMC/1.5 `REPORT`), sent with our Received line so it sees the real client. Its spam/ham call is only a score: the rules decide.',
  },
);

export const AnalyzersConfigSchema = Type.Object(
  {
    probeSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 10, description: 'How often clamd, spamd and Rspamd are asked whether they are up (PING), so engine health (the heartbeat, the dashboard, `moat status`) is known between messages; 0: only scans tell.' }),
    dns: Dns, clamav: Type.Optional(Clamav), auth: Type.Optional(Auth), dnsbl: Type.Optional(Dnsbl), uribl: Type.Optional(Uribl), rspamd: Type.Optional(Rspamd), spamassassin: Type.Optional(Spamassassin) },
  { additionalProperties: false, default: {}, description: 'Analyzers run after DATA beside the content analysis; none configured: the bare pipeline.' },
);
