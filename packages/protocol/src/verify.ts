import { Type, type Static } from 'typebox';

/**
 * Recipient verification (issue 19) on the link. Which domains verify by which source is in the
 * rules; the static lists and the directories (with their credentials) are the master's
 * verification store, sent to every scanner in `verify.sources` (after the welcome and on every
 * change) and kept on its disk 0600, never in the rules history. The call-out cache is the
 * cluster's, on the master, as greylisting's triplets are: `callout.get` asks it (with an id,
 * answered by `callout.cached`), `callout.put` tells it what a probe found. `verify.test` runs
 * a lookup on a scanner for the master's "test this address" route (answered by `result`).
 * Frames added in protocol version 3: never sent to a peer that speaks 2.
 */
export const VERIFY_PROTOCOL_VERSION = 3;

const RequestId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const StoreName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$' });
const Address = Type.String({ minLength: 3, maxLength: 320 });
/** Entries of one static list; the whole store must fit one frame (the master refuses a bigger one). */
export const MAX_STATIC_ENTRIES = 50_000;

export const StaticSourceSchema = Type.Object(
  {
    kind: Type.Literal('static'),
    entries: Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { maxItems: MAX_STATIC_ENTRIES, description: 'Addresses (`alice@example.com`) and patterns (`*@example.com`: every local part; `sales-*@example.com`).' }),
  },
  { additionalProperties: false },
);

export const LdapSourceSchema = Type.Object(
  {
    kind: Type.Literal('ldap'),
    url: Type.String({ minLength: 8, maxLength: 500, pattern: '^ldaps?://', description: '`ldap://dc1.corp.example:389` or `ldaps://dc1.corp.example:636`.' }),
    startTls: Type.Boolean({ description: 'Upgrade an `ldap://` connection with StartTLS before binding.' }),
    rejectUnauthorized: Type.Boolean({ description: 'Verify the directory\'s TLS certificate (against `ca` when given, else the system\'s CAs).' }),
    ca: Type.Optional(Type.String({ maxLength: 20_000, description: 'PEM CA certificate(s) the directory\'s certificate is checked against.' })),
    bindDn: Type.String({ maxLength: 500, description: 'Who the scanner binds as (`CN=moat,OU=Service,DC=corp,DC=example`, or `moat@corp.example` for AD); empty: anonymous.' }),
    bindPassword: Type.String({ maxLength: 500, description: 'Its password. Never shown again by the API, never logged.' }),
    baseDn: Type.String({ minLength: 1, maxLength: 500, description: 'Where the search starts (`DC=corp,DC=example`).' }),
    filter: Type.String({
      minLength: 3, maxLength: 1000,
      description: 'The search filter; `{address}` is the recipient without its tag (escaped as RFC 4515 says), `{local}` and `{domain}` its parts. The default suits Active Directory: `proxyAddresses` holds every address of a mailbox (`SMTP:` the primary one, `smtp:` the others; matched without regard to case).',
    }),
  },
  { additionalProperties: false },
);

/** Active Directory's: the primary address (`mail`) or any of a mailbox's addresses (`proxyAddresses`, `smtp:`, any case). */
export const AD_FILTER = '(|(mail={address})(proxyAddresses=smtp:{address}))';

export const VerificationSourceSchema = Type.Union([StaticSourceSchema, LdapSourceSchema]);
export type StaticSource = Static<typeof StaticSourceSchema>;
export type LdapSource = Static<typeof LdapSourceSchema>;
export type VerificationSource = Static<typeof VerificationSourceSchema>;

/** master → scanner: the whole verification store (it replaces the scanner's copy). */
export const VerifySourcesFrame = Type.Object(
  {
    type: Type.Literal('verify.sources'),
    digest: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the store, for the logs.' }),
    sources: Type.Record(StoreName, VerificationSourceSchema),
  },
  { additionalProperties: false },
);
export type VerifySources = Static<typeof VerifySourcesFrame>;

/** What a call-out found for one address. `accept-all`: the server also took a made-up local part, so it verifies nothing. */
export const CalloutResultSchema = Type.Union([Type.Literal('known'), Type.Literal('unknown'), Type.Literal('accept-all')]);
export type CalloutResult = Static<typeof CalloutResultSchema>;

/** scanner → master: is this address (or its domain, for an accept-all server) in the cluster's call-out cache? */
export const CalloutGetFrame = Type.Object({ type: Type.Literal('callout.get'), id: RequestId, address: Address }, { additionalProperties: false });
/** master → scanner: the answer; `result` absent: not cached (or expired). */
export const CalloutCachedFrame = Type.Object(
  { type: Type.Literal('callout.cached'), id: RequestId, result: Type.Optional(CalloutResultSchema), expiresAt: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);
/** scanner → master: what a probe found, until when (an accept-all result is kept for the whole domain). */
export const CalloutPutFrame = Type.Object(
  { type: Type.Literal('callout.put'), address: Address, result: CalloutResultSchema, expiresAt: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
/** master → scanner: run the lookup for this address now (no cache) and answer with a `result` whose data is a VerifyTestAnswer. */
export const VerifyTestFrame = Type.Object({ type: Type.Literal('verify.test'), id: RequestId, address: Address }, { additionalProperties: false });

export const VerifyTestAnswerSchema = Type.Object({
  address: Type.String({ description: 'The recipient as tested.' }),
  lookedUp: Type.Union([Type.String(), Type.Null()], { description: 'The address looked up (tag cut, lower-case); null when it is not looked up.' }),
  source: Type.Union([Type.Literal('static'), Type.Literal('ldap'), Type.Literal('callout'), Type.Null()], { description: 'The domain\'s source; null: not verified (a domain without verification, postmaster, abuse, or refused before).' }),
  outcome: Type.Union([Type.Literal('accepted'), Type.Literal('unknown'), Type.Literal('unavailable'), Type.Literal('refused'), Type.Literal('not-verified')]),
  detail: Type.String({ description: 'What the source said (the matching entry, the DN found, the probed server\'s reply, the error).' }),
  reply: Type.String({ description: 'What a sender would get at RCPT TO.' }),
  cached: Type.Boolean({ description: 'Answered from the call-out cache.' }),
});
export type VerifyTestAnswer = Static<typeof VerifyTestAnswerSchema>;
export type CalloutCached = Static<typeof CalloutCachedFrame>;
export type CalloutGet = Static<typeof CalloutGetFrame>;
export type CalloutPut = Static<typeof CalloutPutFrame>;
