import { compileRules, type CompiledRules } from './compile.ts';
import type { MessageFacts } from './facts.ts';
import { validateRules } from './validate.ts';

/** Shared by the tests only; not exported from the package. */

export const BASE_RULES = { version: 7, acceptedDomains: ['example.test', '*.sub.example.test'] } as const;

/** Validate and compile a document made of BASE_RULES plus `overrides`. */
export function compiled(overrides: Record<string, unknown> = {}): CompiledRules {
  return compileRules(validateRules({ ...BASE_RULES, ...overrides }));
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
