/**
 * The Domains page's model (pure, tested without a browser): an accepted domain with its route
 * (`routing.domains`) and its recipient verification (`recipientVerification.domains`) as one
 * form, put back into the rules document, and the API's problems mapped to the form's fields.
 * The static list or directory a domain verifies with is an entry of the master's verification
 * store (not the rules): the page saves it through the store's own routes.
 */

export type Doc = Record<string, unknown>;
export type Tls = 'none' | 'opportunistic' | 'required';
export type Source = 'none' | 'static' | 'ldap' | 'callout';

export interface RouteHost { host: string; priority?: number; port?: number }
export interface Route { domain: string; hosts?: RouteHost[]; mx?: boolean; port?: number; tls?: Tls; ca?: string; maxConnections?: number }
export interface Verified { domain: string; source: Exclude<Source, 'none'>; store?: string; callout?: { host?: string; port?: number } }

export interface DomainForm {
  domain: string;
  routeMode: 'relay' | 'hosts' | 'mx';
  /** One server a line: `host[:port] [priority]`. */
  hosts: string;
  port: string;
  tls: Tls;
  ca: string;
  maxConnections: string;
  source: Source;
  /** The store entry (static, ldap); empty: the domain. */
  store: string;
  /** static: one address or pattern a line. */
  entries: string;
  ldapUrl: string;
  baseDn: string;
  bindDn: string;
  /** Empty: the stored one is kept. */
  bindPassword: string;
  filter: string;
  startTls: boolean;
  calloutHost: string;
  calloutPort: string;
}

/** The fields of the form, the names a problem is shown beside. */
export const DOMAIN_FIELDS = [
  'domain', 'routeMode', 'hosts', 'port', 'tls', 'ca', 'maxConnections', 'source', 'store', 'entries',
  'ldapUrl', 'baseDn', 'bindDn', 'bindPassword', 'filter', 'startTls', 'calloutHost', 'calloutPort',
] as const;
export type FieldName = (typeof DOMAIN_FIELDS)[number];
export type Errors = Partial<Record<FieldName | '', string>>;

export const bare = (domain: string) => domain.trim().toLowerCase().replace(/\.$/, '');
/** The store entry a verified domain uses (the rules' default: the domain without `*.`). */
export const storeOf = (v: Verified) => v.store ?? bare(v.domain).replace(/^\*\./, '');

const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const obj = (v: unknown): Doc => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {});
export const acceptedOf = (doc: Doc) => arr<string>(doc['acceptedDomains']);
export const routesOf = (doc: Doc) => arr<Route>(obj(doc['routing'])['domains']);
export const verifiedOf = (doc: Doc) => arr<Verified>(obj(doc['recipientVerification'])['domains']);

export function emptyForm(): DomainForm {
  return {
    domain: '', routeMode: 'relay', hosts: '', port: '25', tls: 'opportunistic', ca: '', maxConnections: '5', source: 'none', store: '', entries: '',
    ldapUrl: '', baseDn: '', bindDn: '', bindPassword: '', filter: '', startTls: false, calloutHost: '', calloutPort: '',
  };
}

export const hostLine = (h: RouteHost) => `${h.host}${h.port !== undefined ? `:${h.port}` : ''} ${h.priority ?? 10}`;

/** What the store holds for an entry, as the form shows it (a bind password is never sent back). */
export interface StoreView { kind: 'static'; entries: string[] }
export interface LdapView { kind: 'ldap'; url: string; baseDn: string; bindDn: string; filter: string; startTls: boolean }

/** The form for a domain of the document, with its store entry when the admin may read the store. */
export function formFor(doc: Doc, domain: string, stored: StoreView | LdapView | undefined): DomainForm {
  const route = routesOf(doc).find((r) => bare(r.domain) === bare(domain));
  const v = verifiedOf(doc).find((d) => bare(d.domain) === bare(domain));
  const f = emptyForm();
  f.domain = domain;
  if (route) {
    f.routeMode = route.mx ? 'mx' : 'hosts';
    f.hosts = (route.hosts ?? []).map(hostLine).join('\n');
    f.port = String(route.port ?? 25);
    f.tls = route.tls ?? 'opportunistic';
    f.ca = route.ca ?? '';
    f.maxConnections = String(route.maxConnections ?? 5);
  }
  if (v) {
    f.source = v.source;
    f.store = v.store ?? '';
    f.calloutHost = v.callout?.host ?? '';
    f.calloutPort = v.callout?.port !== undefined ? String(v.callout.port) : '';
  }
  if (stored?.kind === 'static') f.entries = stored.entries.join('\n');
  if (stored?.kind === 'ldap') Object.assign(f, { ldapUrl: stored.url, baseDn: stored.baseDn, bindDn: stored.bindDn, filter: stored.filter, startTls: stored.startTls });
  return f;
}

/** A number as typed: an empty field is left out (the rules' default), anything else is sent as is for the API to judge. */
const num = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s.trim()));

/** `host[:port] [priority]` lines; a line that does not read is a problem of `hosts` naming it. */
export function parseHosts(text: string): { hosts: RouteHost[]; problem?: string } {
  const hosts: RouteHost[] = [];
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const m = /^(\[[^\]]+\]|[^\s:]+)(?::(\S+))?(?:\s+(\S+))?$/.exec(line);
    if (!m) return { hosts, problem: `line ${i + 1} (${line}): write host, host:port or host:port priority` };
    const host: RouteHost = { host: m[1]!.replace(/^\[|\]$/g, ''), priority: m[3] === undefined ? 10 : Number(m[3]) };
    if (m[2] !== undefined) host.port = Number(m[2]);
    hosts.push(host);
  }
  return { hosts };
}

export const entriesOf = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** Where the edited domain sits in the saved document: the API's problems name these positions. */
export interface Placement { accepted: number; route: number | undefined; verified: number | undefined }

/**
 * The document with the form's domain in it (replacing `original` when editing), or the form's
 * own problems (nothing to send). Other domains and every other key stay as they are.
 */
export function applyDomain(doc: Doc, original: string | undefined, f: DomainForm): { doc: Doc; placement: Placement } | { errors: Errors } {
  const domain = bare(f.domain);
  const errors: Errors = {};
  if (domain === '') errors.domain = 'is required';
  const others = acceptedOf(doc).filter((d) => original === undefined || bare(d) !== bare(original));
  if (domain !== '' && others.some((d) => bare(d) === domain)) errors.domain = `${domain} is already an accepted domain: edit it in the list`;
  const parsed = parseHosts(f.hosts);
  if (f.routeMode === 'hosts' && parsed.problem) errors.hosts = parsed.problem;
  else if (f.routeMode === 'hosts' && parsed.hosts.length === 0) errors.hosts = 'name at least one server (or choose MX records or the relay)';
  if (f.source === 'static' && entriesOf(f.entries).length === 0) errors.entries = 'list at least one address or pattern (*@domain accepts every local part)';
  if (Object.keys(errors).length > 0) return { errors };

  const where = original === undefined ? -1 : acceptedOf(doc).findIndex((d) => bare(d) === bare(original));
  const accepted = [...acceptedOf(doc)];
  const acceptedAt = where >= 0 ? where : accepted.length;
  accepted.splice(acceptedAt, where >= 0 ? 1 : 0, domain);

  const same = (d: string) => bare(d) === bare(original ?? domain);
  const route: Route | undefined = f.routeMode === 'relay' ? undefined : {
    domain,
    ...(f.routeMode === 'mx' ? { mx: true } : { hosts: parsed.hosts }),
    ...(num(f.port) !== undefined ? { port: num(f.port)! } : {}),
    tls: f.tls,
    ...(f.tls === 'required' && f.ca.trim() !== '' ? { ca: f.ca.trim() } : {}),
    ...(num(f.maxConnections) !== undefined ? { maxConnections: num(f.maxConnections)! } : {}),
  };
  const store = f.store.trim();
  const verified: Verified | undefined = f.source === 'none' ? undefined : {
    domain,
    source: f.source,
    ...(f.source !== 'callout' && store !== '' ? { store } : {}),
    ...(f.source === 'callout' && (f.calloutHost.trim() !== '' || f.calloutPort.trim() !== '')
      ? { callout: { ...(f.calloutHost.trim() !== '' ? { host: f.calloutHost.trim() } : {}), ...(num(f.calloutPort) !== undefined ? { port: num(f.calloutPort)! } : {}) } }
      : {}),
  };
  const [routes, routeAt] = replaceIn(routesOf(doc), same, route);
  const [verifiedList, verifiedAt] = replaceIn(verifiedOf(doc), same, verified);
  return {
    doc: {
      ...doc,
      acceptedDomains: accepted,
      routing: { ...obj(doc['routing']), domains: routes },
      recipientVerification: { ...obj(doc['recipientVerification']), domains: verifiedList },
    },
    placement: { accepted: acceptedAt, route: routeAt, verified: verifiedAt },
  };
}

/** The entry for a domain replaced in place (or appended, or dropped when `next` is undefined); its index. */
function replaceIn<T extends { domain: string }>(list: T[], same: (d: string) => boolean, next: T | undefined): [T[], number | undefined] {
  const at = list.findIndex((e) => same(e.domain));
  const out = list.filter((e) => !same(e.domain));
  if (next === undefined) return [out, undefined];
  const i = at >= 0 ? at : out.length;
  out.splice(i, 0, next);
  return [out, i];
}

/** The document without the domain: not accepted, no route, no verification. */
export function removeDomain(doc: Doc, domain: string): Doc {
  const keep = (d: string) => bare(d) !== bare(domain);
  return {
    ...doc,
    acceptedDomains: acceptedOf(doc).filter(keep),
    routing: { ...obj(doc['routing']), domains: routesOf(doc).filter((r) => keep(r.domain)) },
    recipientVerification: { ...obj(doc['recipientVerification']), domains: verifiedOf(doc).filter((v) => keep(v.domain)) },
  };
}

const ROUTE_KEYS: Record<string, FieldName> = { domain: 'domain', hosts: 'hosts', mx: 'routeMode', port: 'port', tls: 'tls', ca: 'ca', maxConnections: 'maxConnections' };
const VERIFY_KEYS: Record<string, FieldName> = { domain: 'domain', source: 'source', store: 'store', callout: 'calloutHost' };
const STORE_KEYS: Record<string, FieldName> = { name: 'store', entries: 'entries', url: 'ldapUrl', baseDn: 'baseDn', bindDn: 'bindDn', bindPassword: 'bindPassword', filter: 'filter', startTls: 'startTls', ca: 'ca' };

/**
 * The rules API's problems (`routing.domains.2.hosts.0.port`) by the form's field, for the
 * domain at `placement`; a problem elsewhere in the document goes to `''` (above the form).
 */
export function rulesProblems(problems: ReadonlyArray<{ field: string; message: string }>, placement: Placement): Errors {
  const out: Errors = {};
  const add = (key: FieldName | '', message: string) => (out[key] = out[key] ? `${out[key]}; ${message}` : message);
  for (const { field, message } of problems) {
    const p = field.replace(/^body\./, '').split('.');
    if (p[0] === 'acceptedDomains' && Number(p[1]) === placement.accepted) add('domain', message);
    else if (p[0] === 'routing' && p[1] === 'domains' && placement.route !== undefined && Number(p[2]) === placement.route) {
      if (p[3] === 'hosts' && p[4] !== undefined) add('hosts', `server ${Number(p[4]) + 1}${p[5] ? ` (${p[5]})` : ''}: ${message}`);
      else add(ROUTE_KEYS[p[3] ?? ''] ?? 'routeMode', message);
    } else if (p[0] === 'recipientVerification' && p[1] === 'domains' && placement.verified !== undefined && Number(p[2]) === placement.verified) {
      add(p[3] === 'callout' && p[4] === 'port' ? 'calloutPort' : VERIFY_KEYS[p[3] ?? ''] ?? 'source', message);
    } else add('', `${field}: ${message}`);
  }
  return out;
}

/** The verification store's problems (`body.entries.3`) by field; an entry is named by its line. */
export function storeProblems(problems: ReadonlyArray<{ field: string; message: string }>, sent: readonly string[]): Errors {
  const out: Errors = {};
  const add = (key: FieldName | '', message: string) => (out[key] = out[key] ? `${out[key]}; ${message}` : message);
  for (const { field, message } of problems) {
    const p = field.replace(/^(body|params)\./, '').split('.');
    if (p[0] === 'entries' && p[1] !== undefined) add('entries', `line ${Number(p[1]) + 1} (${sent[Number(p[1])] ?? '?'}): ${message}`);
    else add(STORE_KEYS[p[0] ?? ''] ?? '', STORE_KEYS[p[0] ?? ''] ? message : `${field}: ${message}`);
  }
  return out;
}

/** Whether any domain of the document still verifies with the store entry `name`. */
export const storeInUse = (doc: Doc, name: string) => verifiedOf(doc).some((v) => v.source !== 'callout' && storeOf(v) === name);
