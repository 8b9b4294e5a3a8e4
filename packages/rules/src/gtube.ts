import type { MessageFacts, Reason } from './facts.ts';

/**
 * GTUBE, the Generic Test for Unsolicited Bulk Email: the string every spam filter treats as
 * certain spam, so that a deployment can be tested end to end. Built from pieces so that this
 * source file is not itself caught by a filter.
 */
export const GTUBE = ['XJS*C4JDBQADN1.NSBN3*2IDNEN*', 'GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL', '*C.34X'].join('');

/**
 * The built-in GTUBE check, on whether a spam engine is configured or not: the string in the
 * decoded body text (or the subject) rejects with reason `gtube`, like SpamAssassin and Rspamd.
 */
export function gtubeReasons(facts: MessageFacts): Reason[] {
  const where = facts.bodyText.includes(GTUBE) ? 'body' : facts.subject.includes(GTUBE) ? 'subject' : undefined;
  return where === undefined ? [] : [{ kind: 'content', rule: 'gtube', match: `GTUBE test string in the ${where}`, action: 'reject' }];
}
