import { Type, type Static } from 'typebox';

/**
 * The rules document: everything a scanner decides with, edited only on the master (later)
 * and pushed to every scanner. For now a scanner loads it from a YAML/JSON file.
 * Validation happens once at the edge (see validate.ts); evaluation assumes a valid document.
 */

export const ActionSchema = Type.Union(
  [Type.Literal('deliver'), Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')],
  { description: 'One verdict per message, from this closed vocabulary (strongest last).' },
);
export type Action = Static<typeof ActionSchema>;

const Pattern = Type.String({
  minLength: 1,
  maxLength: 320,
  description:
    'An address or domain pattern: `user@example.com`, `example.com` (the domain and nothing else), `*.example.com` (subdomains), `*@example.com`, `user@*`; `*` matches any run of characters, `?` one. Case-insensitive.',
});
const Cidr = Type.String({
  minLength: 2,
  maxLength: 64,
  description: 'An IPv4 or IPv6 address or CIDR block: `192.0.2.1`, `198.51.100.0/24`, `2001:db8::/32`.',
});

export const ListsSchema = Type.Object(
  {
    ipAllow: Type.Array(Cidr, { default: [], description: 'Client addresses always allowed (skip lists, content rules and scoring).' }),
    ipBlock: Type.Array(Cidr, { default: [], description: 'Client addresses refused at connect (554 5.7.1).' }),
    senderAllow: Type.Array(Pattern, { default: [], description: 'Envelope senders always allowed.' }),
    senderBlock: Type.Array(Pattern, { default: [], description: 'Envelope senders refused at MAIL FROM (550 5.7.1).' }),
    recipientAllow: Type.Array(Pattern, { default: [], description: 'Recipients whose mail is always allowed.' }),
    recipientBlock: Type.Array(Pattern, { default: [], description: 'Recipients refused at RCPT TO (550 5.7.1).' }),
  },
  { additionalProperties: false, default: {} },
);
export type Lists = Static<typeof ListsSchema>;

/** Most entries one recipient's own allow or block list may hold. */
export const MAX_RECIPIENT_LIST_ENTRIES = 200;

/** A domain in a recipient's own list: letters, digits and hyphens in dot-separated labels, no wildcard. */
export const RECIPIENT_LIST_DOMAIN = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+';
/**
 * An entry of a recipient's own list: one address, or `*@domain` for a whole domain. Nothing
 * else: a pattern like `*e*` on an allow list would switch that person's filtering off (issue 18).
 */
export const RECIPIENT_LIST_ENTRY_PATTERN = `^(?:\\*|[^\\s@*?]{1,64})@${RECIPIENT_LIST_DOMAIN}$`;
const RecipientListEntry = Type.String({ maxLength: 320, pattern: RECIPIENT_LIST_ENTRY_PATTERN, description: 'An address (`name@example.com`) or a whole domain (`*@example.com`); no other wildcards.' });

export const RecipientListSchema = Type.Object(
  {
    allow: Type.Array(RecipientListEntry, { default: [], maxItems: MAX_RECIPIENT_LIST_ENTRIES, description: 'Senders this recipient always accepts (skips content rules and scoring for mail to this recipient only; see the precedence table).' }),
    block: Type.Array(RecipientListEntry, { default: [], maxItems: MAX_RECIPIENT_LIST_ENTRIES, description: 'Senders this recipient refuses: 550 5.7.1 at RCPT TO for this recipient only.' }),
  },
  { additionalProperties: false },
);
export type RecipientList = Static<typeof RecipientListSchema>;

/** Most recipients with lists of their own, in the rules or in the end users' lists. */
export const MAX_LIST_RECIPIENTS = 20_000;
/**
 * Sender lists per recipient, keyed by the lower-case recipient address: the rules' own
 * `recipientLists` (an admin's), and the end users' lists, which the master keeps apart from the
 * rules with a version stream of their own and pushes as `recipient-lists.push` (issue 18).
 */
export const RecipientListsSchema = Type.Record(Type.String({ minLength: 3, maxLength: 320 }), RecipientListSchema, {
  default: {},
  maxProperties: MAX_LIST_RECIPIENTS,
  description: 'Sender allow and block lists per recipient, keyed by the lower-case recipient address.',
});
export type RecipientLists = Static<typeof RecipientListsSchema>;

export const ContentTargetSchema = Type.Union(
  [Type.Literal('subject'), Type.Literal('headers'), Type.Literal('header'), Type.Literal('body'), Type.Literal('any')],
  { description: '`subject`; `header` (the one named by `header`); `headers` (every header line); `body` (decoded text parts); `any` (all of these).' },
);

export const ContentRuleSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'Stable rule id, shown in reasons and logs.' }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Boolean({ default: true }),
    target: ContentTargetSchema,
    header: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Header name, for target `header`.' })),
    contains: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Substring to look for.' })),
    regex: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'JavaScript regular expression (no flags; see caseInsensitive).' })),
    caseInsensitive: Type.Boolean({ default: true }),
    action: Type.Optional(ActionSchema),
    score: Type.Optional(Type.Number({ minimum: -1000, maximum: 1000, description: 'Added to the message score on a match.' })),
  },
  { additionalProperties: false },
);
export type ContentRule = Static<typeof ContentRuleSchema>;

export const AttachmentPolicySchema = Type.Object(
  {
    blockedExtensions: Type.Array(Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9]+$' }), {
      default: ['exe', 'scr', 'pif', 'com', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'msi', 'hta', 'cpl', 'jar', 'ps1', 'lnk', 'iso', 'reg'],
      description: 'File name extensions that are never accepted (no dot, case-insensitive).',
    }),
    blockDoubleExtensions: Type.Boolean({ default: true, description: 'Catch `invoice.pdf.exe`-style names: a document extension followed by a blocked one.' }),
    blockedMimeTypes: Type.Array(Type.String({ minLength: 3, maxLength: 128 }), {
      default: ['application/x-msdownload', 'application/x-msdos-program', 'application/x-dosexec'],
      description: 'Declared content types that are never accepted.',
    }),
    scanArchives: Type.Boolean({ default: true, description: 'Apply the extension rules to the names inside zip archives.' }),
    action: Type.Union([Type.Literal('quarantine'), Type.Literal('reject')], { default: 'reject' }),
  },
  { additionalProperties: false, default: {} },
);
export type AttachmentPolicy = Static<typeof AttachmentPolicySchema>;

export const LimitsSchema = Type.Object(
  {
    maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024, default: 26_214_400, description: 'Advertised in EHLO SIZE; larger messages get 552 5.3.4.' }),
    maxRecipients: Type.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'More recipients in one transaction get 452 4.5.3.' }),
  },
  { additionalProperties: false, default: {} },
);

export const ScoringSchema = Type.Object(
  {
    tag: Type.Number({ default: 5, description: 'Score at or above which a message is tagged.' }),
    quarantine: Type.Number({ default: 10, description: 'Score at or above which a message is quarantined.' }),
    reject: Type.Number({ default: 20, description: 'Score at or above which a message is rejected.' }),
  },
  { additionalProperties: false, default: {} },
);

const ActionWithDefault = (def: Action, description: string) =>
  Type.Union([Type.Literal('deliver'), Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')], { default: def, description });

const AuthScore = (def: number, what: string) =>
  Type.Number({ minimum: -1000, maximum: 1000, default: def, description: `Score added when ${what}.` });

export const AuthenticationSchema = Type.Object(
  {
    spfFail: AuthScore(3, 'SPF fails (the client is not allowed to send for the MAIL FROM domain)'),
    spfSoftfail: AuthScore(1, 'SPF soft-fails'),
    spfPermerror: AuthScore(0.5, 'the SPF record is broken (permerror)'),
    dkimFail: AuthScore(1, 'a DKIM signature is present and none verifies'),
    dmarcFail: AuthScore(2, 'DMARC fails, whatever the published policy'),
    dmarcReject: ActionWithDefault('quarantine', 'Action for a DMARC failure when the From domain publishes `p=reject` (`deliver`: only the score).'),
    dmarcQuarantine: ActionWithDefault('tag', 'Action for a DMARC failure when the From domain publishes `p=quarantine` (`deliver`: only the score).'),
    arcFail: AuthScore(1, 'an ARC chain is present and broken'),
    arcTrustedSealers: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      default: [],
      description: 'Forwarders (domains, `*.example.com` for subdomains) whose valid ARC seal vouches for mail they changed: a DMARC failure of mail with a passing ARC chain sealed by one of them is neither scored nor acted on (mailing lists and forwarding services that rewrite mail you trust).',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'What the sender-authentication results (SPF, DKIM, DMARC) weigh; used when a scanner runs the `auth` analyzer. Skipped for allow-listed mail.',
  },
);

// ── greylisting ──────────────────────────────────────────────────────────────
export const GreylistingSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Defer the first attempt of an unknown (client network, sender, recipient) triplet at RCPT TO with 451 4.7.1; allow-listed clients, senders and recipients skip it.' }),
    delaySeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 300, description: 'A retry of a deferred triplet is accepted once this long has passed since its first attempt.' }),
    expirySeconds: Type.Integer({ minimum: 2, maximum: 30 * 86_400, default: 2 * 86_400, description: 'A deferred triplet not retried successfully within this long after its first attempt is forgotten (the next attempt starts over). Must be more than `delaySeconds`.' }),
    passSeconds: Type.Integer({ minimum: 1, maximum: 400 * 86_400, default: 36 * 86_400, description: 'A triplet that passed is known-good for this long after its last accepted attempt (each accepted attempt renews it).' }),
    ipv4Prefix: Type.Integer({ minimum: 8, maximum: 32, default: 24, description: 'IPv4 clients are grouped by this network prefix (a sender\'s retry often comes from another address of its pool).' }),
    ipv6Prefix: Type.Integer({ minimum: 16, maximum: 128, default: 64, description: 'IPv6 clients are grouped by this network prefix.' }),
    lookupTimeoutMs: Type.Integer({ minimum: 10, maximum: 30_000, default: 1500, description: 'How long a scanner waits for the master\'s shared greylist state before it decides from its own local state.' }),
  },
  { additionalProperties: false, default: {}, description: 'Optional greylisting, decided cluster-wide by the master (each scanner falls back to its local state when the master is down or slow).' },
);
export type Greylisting = Static<typeof GreylistingSchema>;

// ── recipient verification (docs/scanner.md, "Recipient verification") ──────
export const VerifiedDomainSchema = Type.Object(
  {
    domain: Type.String({ minLength: 1, maxLength: 253, description: 'An accepted domain (exactly as in `acceptedDomains`, `*.example.com` for its subdomains) whose recipients are checked at RCPT TO.' }),
    source: Type.Union([Type.Literal('static'), Type.Literal('ldap'), Type.Literal('callout')], {
      description: '`static`: a list of addresses and `*@domain` patterns; `ldap`: an LDAP or Active Directory search; `callout`: a RCPT probe at the domain\'s own mail server. The list and the directory (with its credentials) are entries of the master\'s verification store, not part of the rules.',
    }),
    store: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$', description: '`static` and `ldap`: the verification store entry to use (default: the domain itself, lower-case, without `*.`).' })),
    callout: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'The mail server to probe (default: the domain\'s route, its first server by priority or its first MX; for a domain without a route the scanner\'s `relay.host`).' })),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'Its SMTP port (default: 25 with `host`; without it, the route\'s port, or `relay.port` for a domain without a route).' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type VerifiedDomain = Static<typeof VerifiedDomainSchema>;

export const RecipientVerificationSchema = Type.Object(
  {
    domains: Type.Array(VerifiedDomainSchema, { default: [], maxItems: 1000, description: 'Which accepted domains verify their recipients, and by which source. A recipient of a domain not listed is accepted as before.' }),
    tagSeparators: Type.String({ maxLength: 8, pattern: '^[^\\s@"<>]*$', default: '+', description: 'Characters that start an address tag (`user+news@`): the tag is cut before the lookup, at the first of them. Empty: addresses are looked up as they are.' }),
    allowLocalPartRouting: Type.Boolean({ default: false, description: 'Accept local parts with `%` or `!` source routing (`user%other.example@`, `other.example!user@`); refused with 501 5.1.3 by default, since a downstream that honours them relays to the outside (for every domain, verified or not).' }),
    lookupTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000, description: 'Longest wait for one lookup (the directory, the probed server); past it the recipient gets `onUnavailable`.' }),
    onUnavailable: Type.Union([Type.Literal('defer'), Type.Literal('accept')], { default: 'defer', description: 'A source that does not answer (down, time-out, a 4xx): `defer` answers 451 4.4.3 (the sender retries); `accept` takes the recipient unverified. Never a hard reject.' }),
    callout: Type.Object(
      {
        positiveTtlSeconds: Type.Integer({ minimum: 60, maximum: 90 * 86_400, default: 7 * 86_400, description: 'How long a probe that found the mailbox (or an accept-all server) is trusted, cluster-wide.' }),
        negativeTtlSeconds: Type.Integer({ minimum: 10, maximum: 30 * 86_400, default: 3600, description: 'How long a probe that found no such mailbox is trusted (short: a mailbox created now works soon).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    harvest: Type.Object(
      {
        maxUnknown: Type.Integer({ minimum: 0, maximum: 100_000, default: 20, description: 'Unknown recipients one client address may try within `windowSeconds` (directory harvesting) before `action`; 0 turns the cap off.' }),
        windowSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 600 }),
        action: Type.Union([Type.Literal('disconnect'), Type.Literal('refuse')], { default: 'disconnect', description: '`disconnect`: 421 4.7.0 and the session is closed; `refuse`: every further RCPT TO from that address gets 450 4.7.1 until the window has passed.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {}, description: 'Recipient verification at RCPT TO: an unknown user of a verified domain gets 550 5.1.1 (never a 250 and a bounce later). `postmaster` and `abuse` are always accepted.' },
);
export type RecipientVerification = Static<typeof RecipientVerificationSchema>;

// ── per-domain routing (docs/scanner.md, "Routing") ─────────────────────────
export const RouteHostSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, description: 'A downstream mail server: a host name or an IP address.' }),
    priority: Type.Integer({ minimum: 0, maximum: 65_535, default: 10, description: 'Lower is tried first; hosts of equal priority share the mail (the order is drawn per attempt); the next priority only when every host before it failed to take the message.' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'Its SMTP port, when it differs from the route\'s `port`.' })),
  },
  { additionalProperties: false },
);
export type RouteHost = Static<typeof RouteHostSchema>;

export const RouteSchema = Type.Object(
  {
    domain: Type.String({ minLength: 1, maxLength: 253, description: 'An accepted domain (exactly as in `acceptedDomains`, `*.example.com` for its subdomains) whose mail takes this route.' }),
    hosts: Type.Optional(Type.Array(RouteHostSchema, { minItems: 1, maxItems: 32, description: 'The downstream servers of the domain, with priorities. Exactly one of `hosts` and `mx`.' })),
    mx: Type.Optional(Type.Boolean({ description: '`true`: the domain\'s MX records name its servers (the domain itself when it has none, RFC 5321 5.1). A server that is this gateway (its addresses or host name on its SMTP port) is a loop and is never used.' })),
    port: Type.Integer({ minimum: 1, maximum: 65_535, default: 25, description: 'The SMTP port of the route\'s servers.' }),
    tls: Type.Union([Type.Literal('none'), Type.Literal('opportunistic'), Type.Literal('required')], {
      default: 'opportunistic',
      description: '`none`: never STARTTLS; `opportunistic`: STARTTLS when offered, certificate not checked (RFC 7435); `required`: STARTTLS or no delivery, and the certificate must verify for the host name (against `ca` when given, else the system\'s CAs).',
    }),
    ca: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536, pattern: '-----BEGIN CERTIFICATE-----', description: 'PEM certificate(s) of the CA that signed the servers\' certificates (`tls: required` only).' })),
    maxConnections: Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'Most connections at once to this route\'s servers, from each scanner.' }),
  },
  { additionalProperties: false },
);
export type Route = Static<typeof RouteSchema>;

export const RoutingSchema = Type.Object(
  {
    domains: Type.Array(RouteSchema, { default: [], maxItems: 1000, description: 'Where each accepted domain\'s mail goes. A domain without a route goes to the scanner\'s `relay` (its config file), as before.' }),
  },
  { additionalProperties: false, default: {}, description: 'Per-domain routing of delivered mail: downstream hosts with priorities and fail-over, or MX lookup; TLS policy; connections.' },
);
export type Routing = Static<typeof RoutingSchema>;

export const TaggingSchema = Type.Object(
  {
    subjectPrefix: Type.String({ maxLength: 64, default: '[SPAM]', description: 'Prepended to the subject of tagged mail; empty for none.' }),
  },
  { additionalProperties: false, default: {} },
);

/** A week of mail: what an admin expects to find when "the invoice never arrived" comes in. */
export const DEFAULT_RETENTION_DAYS = 7;
/** 10 GiB per node: a week of a busy gateway's clean mail at tens of KB a message. */
export const DEFAULT_RETENTION_BYTES = 10 * 1024 * 1024 * 1024;

export const RetentionSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Keep a copy of accepted messages on the scanner that handled them, to view and re-deliver from the master. Rejected messages are never kept.' }),
    verdicts: Type.Array(Type.Union([Type.Literal('deliver'), Type.Literal('tag'), Type.Literal('quarantine')]), {
      default: ['deliver', 'tag', 'quarantine'],
      uniqueItems: true,
      maxItems: 3,
      description: 'Which verdicts keep a copy.',
    }),
    days: Type.Integer({ minimum: 1, maximum: 3650, default: DEFAULT_RETENTION_DAYS, description: 'A copy is removed once it is older than this many days.' }),
    maxBytes: Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      default: DEFAULT_RETENTION_BYTES,
      description: 'Disk budget of the copies on each node, in bytes: past it the oldest copies are removed first (a message larger than the whole budget is not kept).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'Per-node retention of accepted messages (cluster-wide settings; each node applies them to its own copies).' },
);
export type Retention = Static<typeof RetentionSchema>;

// ── quarantine lifetime (docs/quarantine-lifetime.md) ──────────────────────────
export const DEFAULT_QUARANTINE_DAYS = 30;
export const DEFAULT_QUARANTINE_BYTES = 20 * 1024 * 1024 * 1024;
const QuarantineDays = (kind: string) =>
  Type.Integer({ minimum: 1, maximum: 3650, default: DEFAULT_QUARANTINE_DAYS, description: `Days a message held as ${kind} is kept before it is purged (status \`expired\`).` });
export const QuarantineLifetimeSchema = Type.Object(
  {
    days: Type.Object(
      { spam: QuarantineDays('spam'), virus: QuarantineDays('a virus'), policy: QuarantineDays('policy (attachment, content rule, list, size, an analyzer\'s policy)') },
      { additionalProperties: false, default: {} },
    ),
    maxBytes: Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      default: DEFAULT_QUARANTINE_BYTES,
      description: 'Disk budget of the held messages on each node, in bytes: past it the oldest are purged first, before their days (status `expired`).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'How long held mail is kept on the scanner that holds it, by kind, and its disk budget (cluster-wide settings; each node purges its own).' },
);
export type QuarantineLifetime = Static<typeof QuarantineLifetimeSchema>;

export const NodeSettingsSchema = Type.Object(
  {
    weight: Type.Integer({ minimum: 0, maximum: 1000, default: 1 }),
    backup: Type.Boolean({ default: false }),
    maintenance: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export const RulesSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 0, description: 'Rule set version; bigger is newer.' }),
    acceptedDomains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      minItems: 1,
      description: 'Recipient domains this gateway accepts mail for (`*.example.com` for subdomains); anything else is 550 5.7.1 relaying denied.',
    }),
    lists: ListsSchema,
    limits: LimitsSchema,
    content: Type.Array(ContentRuleSchema, { default: [], maxItems: 10_000, description: 'Content rules, evaluated in order; see the content rule keys below.' }),
    attachments: AttachmentPolicySchema,
    scoring: ScoringSchema,
    authentication: AuthenticationSchema,
    tagging: TaggingSchema,
    greylisting: GreylistingSchema,
    recipientVerification: RecipientVerificationSchema,
    routing: RoutingSchema,
    retention: RetentionSchema,
    quarantine: QuarantineLifetimeSchema,
    nodes: Type.Record(Type.String(), NodeSettingsSchema, { default: {}, description: 'Per-node cluster settings (weight, backup, maintenance) for the balancer.' }),
    recipientLists: Type.Record(Type.String({ minLength: 3, maxLength: 320 }), RecipientListSchema, {
      default: {},
      maxProperties: MAX_LIST_RECIPIENTS,
      description: 'Sender allow and block lists for single recipients, set by an admin, keyed by the lower-case recipient address. The end users\' own lists (their quarantine page) are not here: the master keeps them apart, with versions of their own, and the scanners apply both.',
    }),
  },
  { additionalProperties: false },
);
export type Rules = Static<typeof RulesSchema>;
