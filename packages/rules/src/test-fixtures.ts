import { compileRules, type CompiledRules } from './compile.ts';
import type { MessageFacts } from './facts.ts';
import type { Rules } from './schema.ts';

/**
 * Shared by the tests only; not exported from the package.
 *
 * Test documents get their defaults here rather than from validateRules, because loading
 * typebox costs about 0.3 s per test file, ten times what the tests themselves take.
 * validate.test.ts proves that `rulesDoc` and validateRules agree.
 */

export const BASE_RULES: Pick<Rules, 'version' | 'acceptedDomains'> = { version: 7, acceptedDomains: ['example.test', '*.sub.example.test'] };

const DEFAULTS: Omit<Rules, 'version' | 'acceptedDomains'> = {
  lists: { ipAllow: [], ipBlock: [], senderAllow: [], senderBlock: [], recipientAllow: [], recipientBlock: [] },
  limits: { maxMessageBytes: 26_214_400, maxRecipients: 100 },
  content: [],
  attachments: {
    blockedExtensions: ['exe', 'scr', 'pif', 'com', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'msi', 'hta', 'cpl', 'jar', 'ps1', 'lnk', 'iso', 'reg'],
    blockDoubleExtensions: true,
    blockedMimeTypes: ['application/x-msdownload', 'application/x-msdos-program', 'application/x-dosexec'],
    scanArchives: true,
    action: 'reject',
  },
  scoring: { tag: 5, quarantine: 10, reject: 20 },
  authentication: { spfFail: 3, spfSoftfail: 1, spfPermerror: 0.5, dkimFail: 1, dmarcFail: 2, dmarcReject: 'quarantine', dmarcQuarantine: 'tag', arcFail: 1, arcTrustedSealers: [] },
  tagging: { subjectPrefix: '[SPAM]' },
  greylisting: { enabled: false, delaySeconds: 300, expirySeconds: 172_800, passSeconds: 3_110_400, ipv4Prefix: 24, ipv6Prefix: 64, lookupTimeoutMs: 1500 },
  recipientVerification: {
    domains: [], tagSeparators: '+', allowLocalPartRouting: false, lookupTimeoutMs: 5000, onUnavailable: 'defer',
    callout: { positiveTtlSeconds: 604_800, negativeTtlSeconds: 3600 }, harvest: { maxUnknown: 20, windowSeconds: 600, action: 'disconnect' },
  },
  routing: { domains: [] },
  quarantine: { days: { spam: 30, virus: 30, policy: 30 }, maxBytes: 20 * 1024 * 1024 * 1024 },
  retention: { enabled: true, verdicts: ['deliver', 'tag', 'quarantine'], days: 7, maxBytes: 10 * 1024 * 1024 * 1024 },
  nodes: {},
  recipientLists: {},
};

type Overrides = Record<string, unknown>;

/** BASE_RULES plus `overrides`, with the schema's defaults filled in. */
export function rulesDoc(overrides: Overrides = {}): Rules {
  const o = overrides as { [K in keyof Rules]?: Partial<Rules[K]> } & Overrides;
  return {
    ...BASE_RULES,
    ...DEFAULTS,
    ...overrides,
    lists: { ...DEFAULTS.lists, ...o.lists },
    limits: { ...DEFAULTS.limits, ...o.limits },
    attachments: { ...DEFAULTS.attachments, ...o.attachments },
    scoring: { ...DEFAULTS.scoring, ...o.scoring },
    authentication: { ...DEFAULTS.authentication, ...o.authentication },
    tagging: { ...DEFAULTS.tagging, ...o.tagging },
    retention: { ...DEFAULTS.retention, ...o.retention },
    recipientVerification: { ...DEFAULTS.recipientVerification, ...o.recipientVerification },
    content: ((o.content ?? []) as Overrides[]).map((rule) => ({ enabled: true, caseInsensitive: true, ...rule })),
  } as unknown as Rules;
}

export function compiled(overrides: Overrides = {}): CompiledRules {
  return compileRules(rulesDoc(overrides));
}

export function facts(overrides: Partial<MessageFacts> = {}): MessageFacts {
  return {
    clientIp: '203.0.113.9',
    mailFrom: 'alice@sender.example',
    rcptTo: ['bob@example.test'],
    sizeBytes: 2048,
    headers: [
      { name: 'From', value: 'Alice <alice@sender.example>' },
      { name: 'Subject', value: 'Hello' },
    ],
    subject: 'Hello',
    bodyText: 'Hi Bob, see you tomorrow.',
    attachments: [],
    ...overrides,
  };
}
