import type { Rules } from './schema.ts';
import { validateRules } from './validate.ts';

/**
 * The rules `pnpm start` ships with (see ARCHITECTURE.md, "The local cluster"), so a newcomer
 * sees every verdict with swaks in a minute. Goes through validateRules, so the defaults are
 * filled in and the result is frozen like any loaded document.
 */
export function demoRules(): Rules {
  return validateRules(
    {
      version: 1,
      acceptedDomains: ['example.test'],
      lists: { senderBlock: ['*@blocked.example'] },
      content: [
        { id: 'demo-quarantine', target: 'subject', contains: 'QUARANTINE-ME', action: 'quarantine' },
        { id: 'demo-tag', target: 'subject', contains: 'TAG-ME', action: 'tag' },
      ],
      // The sink plays the organisation's mail server and knows a few mailboxes: every other
      // recipient at example.test gets 550 5.1.1 at RCPT, found by a call-out to it.
      recipientVerification: { domains: [{ domain: 'example.test', source: 'callout' }] },
      // Spelled out although it is the default: every accepted message can be viewed and re-delivered from the console.
      retention: { enabled: true, verdicts: ['deliver', 'tag', 'quarantine'], days: 7 },
    },
    'demo rules',
  );
}
