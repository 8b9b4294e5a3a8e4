import { ConfigError, validateDocument, type FieldError } from '@moat/config';
import { patternProblem } from './address-match.ts';
import { parseCidr } from './ip-match.ts';
import { Value } from 'typebox/value';
import { NodeSettingsSchema, RecipientListSchema, RecipientListsSchema, RulesSchema, type RecipientLists, type Rules } from './schema.ts';
import { checkContentRules } from './validate-content.ts';

/**
 * The one gate a rules document passes before anything uses it (master on save, scanner on
 * receipt and on load): the schema with its defaults, then the checks a schema cannot express.
 * Every problem is reported at once, each naming its key (`content.2.regex`).
 * Returns the document with defaults applied, deep-frozen.
 */
export function validateRules(input: unknown, source = 'rules'): Rules {
  const rules = validateDocument(RulesSchema, withNodeDefaults(input), source);
  const errors = [...checkLists(rules), ...checkContentRules(rules.content), ...checkScoring(rules.scoring), ...checkGreylisting(rules.greylisting), ...checkVerification(rules), ...checkRouting(rules)];
  if (errors.length > 0) throw new ConfigError(source, errors);
  return rules;
}

/**
 * The end users' lists (the master's store apart from the rules, pushed as
 * `recipient-lists.push`): the same gate as the rules' `recipientLists`, each problem named by
 * its key (`bob@example.com.allow.0`, prefixed with `prefix`). Returns the lists, deep-frozen.
 */
export function validateRecipientLists(input: unknown, source = 'recipient lists', prefix = ''): RecipientLists {
  const filled = withRecordDefaults({ lists: input }, 'lists', RecipientListSchema) as { lists: unknown };
  let lists: RecipientLists;
  try {
    lists = validateDocument(RecipientListsSchema, filled.lists, source);
  } catch (err) {
    if (err instanceof ConfigError && prefix !== '') throw new ConfigError(source, err.errors.map((e) => ({ ...e, key: `${prefix}${e.key}` })));
    throw err;
  }
  const errors = checkRecipientLists(lists, prefix);
  if (errors.length > 0) throw new ConfigError(source, errors);
  return lists;
}

/**
 * Defaults are not applied inside a Record's values, so `nodes: { b: { maintenance: true } }`
 * gets its `weight` and `backup` defaults here (on a copy) before the schema sees it.
 */
function withNodeDefaults(input: unknown): unknown {
  return withRecordDefaults(withRecordDefaults(input, 'nodes', NodeSettingsSchema), 'recipientLists', RecipientListSchema);
}

function withRecordDefaults(input: unknown, key: string, schema: typeof NodeSettingsSchema | typeof RecipientListSchema): unknown {
  if (typeof input !== 'object' || input === null || !(key in input)) return input;
  const record = (input as Record<string, unknown>)[key];
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return input;
  const filled = Object.fromEntries(Object.entries(record).map(([name, v]) => [name, typeof v === 'object' && v !== null ? Value.Default(schema, structuredClone(v)) : v]));
  return { ...(input as object), [key]: filled };
}

function checkLists(rules: Rules): FieldError[] {
  const errors: FieldError[] = [];
  const { lists } = rules;
  for (const name of ['ipAllow', 'ipBlock'] as const) {
    lists[name].forEach((entry, i) => {
      const cidr = parseCidr(entry);
      if (typeof cidr === 'string') errors.push({ key: `lists.${name}.${i}`, message: cidr });
    });
  }
  for (const name of ['senderAllow', 'senderBlock', 'recipientAllow', 'recipientBlock'] as const) {
    lists[name].forEach((pattern, i) => {
      const problem = patternProblem(pattern);
      if (problem !== undefined) errors.push({ key: `lists.${name}.${i}`, message: problem });
    });
  }
  rules.authentication.arcTrustedSealers.forEach((domain, i) => {
    const problem = patternProblem(domain, true) ?? openRelayProblem(domain, 'trust every forwarder');
    if (problem !== undefined) errors.push({ key: `authentication.arcTrustedSealers.${i}`, message: problem });
  });
  errors.push(...checkRecipientLists(rules.recipientLists, 'recipientLists.'));
  rules.acceptedDomains.forEach((domain, i) => {
    const problem = patternProblem(domain, true) ?? openRelayProblem(domain);
    if (problem !== undefined) errors.push({ key: `acceptedDomains.${i}`, message: problem });
  });
  return errors;
}

/** Keys are one lower-case address each; entries are valid patterns (the schema already allows only an address or `*@domain`). */
function checkRecipientLists(lists: RecipientLists, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [recipient, own] of Object.entries(lists)) {
    if (!/^[^\s<>@*?]+@[^\s<>@*?]+$/.test(recipient) || recipient !== recipient.toLowerCase()) {
      errors.push({ key: `${prefix}${recipient}`, message: 'must be one lower-case recipient address, without wildcards' });
    }
    for (const name of ['allow', 'block'] as const) {
      own[name].forEach((pattern, i) => {
        const problem = patternProblem(pattern);
        if (problem !== undefined) errors.push({ key: `${prefix}${recipient}.${name}.${i}`, message: problem });
      });
    }
  }
  return errors;
}

/** `*` or `*.*` as an accepted domain would turn the gateway into an open relay. */
function openRelayProblem(domain: string, consequence = 'be an open relay'): string | undefined {
  return /^[*?.]+$/.test(domain) ? `must name a domain, not only wildcards (that would ${consequence})` : undefined;
}

function checkScoring(scoring: Rules['scoring']): FieldError[] {
  const errors: FieldError[] = [];
  if (scoring.quarantine < scoring.tag) {
    errors.push({ key: 'scoring.quarantine', message: `must be at least scoring.tag (${scoring.tag})` });
  }
  if (scoring.reject < scoring.quarantine) {
    errors.push({ key: 'scoring.reject', message: `must be at least scoring.quarantine (${scoring.quarantine})` });
  }
  return errors;
}

function checkGreylisting(g: Rules['greylisting']): FieldError[] {
  return g.expirySeconds > g.delaySeconds ? [] : [{ key: 'greylisting.expirySeconds', message: `must be more than greylisting.delaySeconds (${g.delaySeconds}): a retry must be able to pass` }];
}

/** A verified domain must be an accepted one (else its recipients never reach the check), once, with its source's settings. */
function checkVerification(rules: Rules): FieldError[] {
  const errors: FieldError[] = [];
  const accepted = new Set(rules.acceptedDomains.map((d) => d.toLowerCase().replace(/\.$/, '')));
  const seen = new Set<string>();
  rules.recipientVerification.domains.forEach((d, i) => {
    const domain = d.domain.toLowerCase().replace(/\.$/, '');
    if (!accepted.has(domain)) errors.push({ key: `recipientVerification.domains.${i}.domain`, message: `must be one of acceptedDomains (${domain} is not)` });
    if (seen.has(domain)) errors.push({ key: `recipientVerification.domains.${i}.domain`, message: `${domain} is listed twice` });
    seen.add(domain);
    if (d.callout && d.source !== 'callout') errors.push({ key: `recipientVerification.domains.${i}.callout`, message: 'only for source callout' });
    if (d.store !== undefined && d.source === 'callout') errors.push({ key: `recipientVerification.domains.${i}.store`, message: 'only for sources static and ldap' });
  });
  return errors;
}

/** A route is for an accepted domain, once, by hosts or by MX (not both), with a CA only when TLS is required. */
function checkRouting(rules: Rules): FieldError[] {
  const errors: FieldError[] = [];
  const accepted = new Set(rules.acceptedDomains.map((d) => d.toLowerCase().replace(/\.$/, '')));
  const seen = new Set<string>();
  rules.routing.domains.forEach((r, i) => {
    const key = `routing.domains.${i}`;
    const domain = r.domain.toLowerCase().replace(/\.$/, '');
    if (!accepted.has(domain)) errors.push({ key: `${key}.domain`, message: `must be one of acceptedDomains (${domain} is not)` });
    if (seen.has(domain)) errors.push({ key: `${key}.domain`, message: `${domain} has two routes` });
    seen.add(domain);
    if (r.mx === true && r.hosts) errors.push({ key: `${key}.hosts`, message: 'give either hosts or mx: true, not both' });
    if (r.mx !== true && !r.hosts) errors.push({ key: `${key}.hosts`, message: 'required unless mx: true (the domain\'s MX records)' });
    if (r.mx === true && domain.startsWith('*.')) errors.push({ key: `${key}.mx`, message: 'a wildcard domain has no MX records of its own: give hosts' });
    if (r.ca !== undefined && r.tls !== 'required') errors.push({ key: `${key}.ca`, message: 'only with tls: required (opportunistic TLS checks no certificate)' });
  });
  return errors;
}
