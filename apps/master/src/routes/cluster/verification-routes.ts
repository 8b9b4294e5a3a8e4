import { Type } from 'typebox';
import { AD_FILTER, LdapSourceSchema, StaticSourceSchema, VerifyTestAnswerSchema, MAX_FRAME_BYTES, type VerificationSource } from '@moat/protocol';
import { patternProblem } from '@moat/rules';
import type { AppDeps } from '../../app-deps.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses, iso } from '../../http/schemas.ts';
import { redact } from '../../verification/verification-store.ts';
import type { TypedApp } from '../data/typed-app.ts';

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'The store entry, as the rules\' `recipientVerification.domains[].store` names it (by default the domain).' });
const P = LdapSourceSchema.properties;
const LdapInput = Type.Object(
  {
    kind: P.kind, url: P.url, baseDn: P.baseDn, ca: P.ca,
    startTls: Type.Optional(Type.Boolean({ description: 'Upgrade an `ldap://` connection with StartTLS before binding. Default false.' })),
    rejectUnauthorized: Type.Optional(Type.Boolean({ description: 'Verify the directory\'s TLS certificate (against `ca` when given, else the system\'s CAs). Default true.' })),
    bindDn: Type.Optional(Type.String({ maxLength: 500, description: 'Who the scanner binds as (`CN=moat,OU=Service,DC=corp,DC=example`, or `moat@corp.example` for AD). Default: empty, an anonymous search.' })),
    bindPassword: Type.Optional(Type.String({ maxLength: 500, description: 'Absent: the stored one is kept (the API never shows it).' })),
    filter: Type.Optional(Type.String({ minLength: 3, maxLength: 1000, description: `The search filter; \`{address}\` is the recipient without its tag (escaped as RFC 4515 says), \`{local}\` and \`{domain}\` its parts. Default, for Active Directory: \`${AD_FILTER}\`.` })),
  },
  { additionalProperties: false },
);
const SourceInput = Type.Union([StaticSourceSchema, LdapInput]);
const RedactedLdap = Type.Object({ ...LdapSourceSchema.properties, bindPassword: Type.String({ description: '`[redacted]` when one is set, else empty.' }) });
const SourceView = Type.Object({
  name: Type.String(),
  source: Type.Union([StaticSourceSchema, RedactedLdap]),
  updatedAt: Type.String({ format: 'date-time' }),
  updatedBy: Type.String(),
});
/** The store is sent whole in one frame: keep well under the link's cap. */
const MAX_STORE_BYTES = Math.floor(MAX_FRAME_BYTES * 0.75);

/**
 * The verification store (docs/scanner.md, "Recipient verification"): static recipient lists and
 * LDAP / Active Directory directories, kept apart from the rules. Admin only; bind passwords are
 * never answered, logged or audited, static lists are audited as counts. "Test this address"
 * runs the lookup on a scanner over the link.
 */
export function registerVerificationRoutes(app: TypedApp, hub: ClusterHub, deps: AppDeps): void {
  const view = (s: { name: string; source: VerificationSource; updatedAt: number; updatedBy: string }) => ({ name: s.name, source: redact(s.source), updatedAt: iso(s.updatedAt), updatedBy: s.updatedBy });

  app.get('/verification/sources', {
    config: { role: 'admin' },
    schema: { summary: 'The verification store: static recipient lists and directories (bind passwords redacted)', tags: ['verification'], response: { 200: Type.Object({ sources: Type.Array(SourceView) }) } },
  }, async () => ({ sources: (await hub.verification.list()).map(view) }));

  app.get('/verification/sources/:name', {
    config: { role: 'admin' },
    schema: { summary: 'One entry of the verification store', tags: ['verification'], params: Type.Object({ name: Name }), response: { 200: SourceView, ...errorResponses(404) } },
  }, async (request) => {
    const s = await hub.verification.get(request.params.name);
    if (!s) throw notFound(`verification source ${request.params.name}`);
    return view(s);
  });

  app.put('/verification/sources/:name', {
    config: { role: 'admin' },
    schema: {
      summary: 'Create or replace a static recipient list or a directory',
      description: 'Sent at once to every online scanner, which keeps it on its disk (0600). For a directory, leave `bindPassword` out to keep the stored one.',
      tags: ['verification'], params: Type.Object({ name: Name }), body: SourceInput, response: { 200: SourceView, ...errorResponses(400, 413) },
    },
  }, async (request) => {
    const { name } = request.params;
    const before = await hub.verification.get(name);
    const body = request.body as VerificationSource | (Pick<Extract<VerificationSource, { kind: 'ldap' }>, 'kind' | 'url' | 'baseDn' | 'ca'> & Partial<Omit<Extract<VerificationSource, { kind: 'ldap' }>, 'kind' | 'url' | 'baseDn' | 'ca'>>);
    let source: VerificationSource;
    if (body.kind === 'static') {
      const problems = body.entries.flatMap((e, i) => {
        const p = e.includes('@') ? patternProblem(e) : 'must be an address or a pattern with @ (`*@example.com`)';
        return p === undefined ? [] : [{ field: `body.entries.${i}`, message: p }];
      });
      if (problems.length > 0) throw new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', problems.slice(0, 20));
      source = { kind: 'static', entries: [...new Set(body.entries.map((e) => e.toLowerCase()))] };
    } else {
      const kept = before?.source.kind === 'ldap' ? before.source.bindPassword : '';
      if (body.startTls && body.url.startsWith('ldaps:')) throw new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', [{ field: 'body.startTls', message: 'is for ldap:// URLs (ldaps:// is TLS from the start)' }]);
      const filter = body.filter ?? AD_FILTER;
      if (!filter.includes('{address}') && !filter.includes('{local}')) throw new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', [{ field: 'body.filter', message: 'must contain {address} or {local}' }]);
      source = {
        kind: 'ldap', url: body.url, baseDn: body.baseDn, ...(body.ca ? { ca: body.ca } : {}),
        startTls: body.startTls ?? false, rejectUnauthorized: body.rejectUnauthorized ?? true, bindDn: body.bindDn ?? '', bindPassword: body.bindPassword ?? kept, filter,
      };
    }
    const size = Buffer.byteLength(JSON.stringify({ ...(await hub.verification.frame()).sources, [name]: source }));
    if (size > MAX_STORE_BYTES) throw new ApiError(413, 'MOAT_ERR_TOO_LARGE', `the verification store would be ${size} bytes; at most ${MAX_STORE_BYTES} fit the cluster link`, [{ field: 'body.entries', message: 'too many entries' }]);
    await hub.verification.put(name, source, request.principal!.username, deps.now());
    await request.audit('verification.put', name, auditDiff(before?.source, source));
    deps.log.info({ event: 'VERIFY_STORE_CHANGED', name, kind: source.kind }, 'verification store entry saved');
    hub.verificationChanged();
    return view((await hub.verification.get(name))!);
  });

  app.delete('/verification/sources/:name', {
    config: { role: 'admin' },
    schema: { summary: 'Remove a static list or a directory', description: 'A domain whose rules still name it gets 451 4.4.3 (verification unavailable) until the rules change.', tags: ['verification'], params: Type.Object({ name: Name }), response: { 204: Type.Null(), ...errorResponses(404) } },
  }, async (request, reply) => {
    const before = await hub.verification.get(request.params.name);
    if (!before || !(await hub.verification.remove(request.params.name))) throw notFound(`verification source ${request.params.name}`);
    await request.audit('verification.delete', request.params.name, { kind: before.source.kind });
    hub.verificationChanged();
    return reply.code(204).send(null);
  });

  app.post('/verification/test', {
    config: { role: 'admin' },
    schema: {
      summary: 'Test an address: run its lookup on a scanner now',
      description: 'What RCPT TO would answer on that scanner (the call-out cache is skipped; a probe\'s result is cached as any). `node`: a node id; default: the first online scanner.',
      tags: ['verification'],
      body: Type.Object({ address: Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>]+@[^\\s<>@]+$' }), node: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ node: Type.String(), ...VerifyTestAnswerSchema.properties }), ...errorResponses(400, 404), 503: Type.Unknown({ description: 'No scanner online, or it did not answer (MOAT_ERR_NODE_OFFLINE, MOAT_ERR_NODE_TIMEOUT).' }) },
    },
  }, async (request) => {
    const online = await hub.relayNodeIds();
    const nodeId = request.body.node ?? online[0];
    if (nodeId === undefined) throw new ApiError(503, 'MOAT_ERR_NODE_OFFLINE', 'no scanner is online to run the lookup');
    if (request.body.node !== undefined && !(await hub.nodes()).some((n) => n.id === nodeId)) throw notFound(`node ${nodeId}`);
    const answer = await hub.testRecipient(nodeId, request.body.address);
    return { node: (await hub.nodes()).find((n) => n.id === nodeId)?.name ?? nodeId, ...answer };
  });
}

/** What changed, for the audit log: never a password, and a list's size rather than its addresses. */
function auditDiff(before: VerificationSource | undefined, after: VerificationSource): Record<string, unknown> {
  if (after.kind === 'static') {
    const old = new Set(before?.kind === 'static' ? before.entries : []);
    const now = new Set(after.entries);
    return { kind: 'static', entries: now.size, added: [...now].filter((e) => !old.has(e)).length, removed: [...old].filter((e) => !now.has(e)).length };
  }
  const prev = before?.kind === 'ldap' ? before : undefined;
  const changed = (Object.keys(after) as (keyof typeof after)[]).filter((k) => k !== 'bindPassword' && JSON.stringify(after[k]) !== JSON.stringify(prev?.[k]));
  return { kind: 'ldap', url: after.url, bindDn: after.bindDn, changed, passwordChanged: prev ? prev.bindPassword !== after.bindPassword : after.bindPassword !== '' };
}
