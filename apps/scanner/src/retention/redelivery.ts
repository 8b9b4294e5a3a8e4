import type { CompiledRules } from '@moat/rules';

/**
 * Trace headers of a re-delivered copy, above the ones it was first delivered with: a Received
 * line for this hop under the new queue id, and a marker a recipient's admin can filter on.
 */
export function redeliveryHeaders(r: { id: string; queueId: string; hostname: string; nodeName: string; at: number }): string[] {
  const date = new Date(r.at).toUTCString();
  return [
    `Received: by ${r.hostname} (Moat) with local id ${r.queueId}\r\n\t(re-delivery of ${r.id});\r\n\t${date}`,
    `X-Moat-Redelivered: ${date} (retained copy of ${r.id} on ${r.nodeName})`,
  ];
}

/**
 * The first recipient outside the accepted domains, if any: a re-delivery goes to the
 * organisation's own mail server, never out to the world (the same rule as RCPT TO).
 */
export function unacceptedRecipient(rules: CompiledRules, rcptTo: readonly string[]): string | undefined {
  return rcptTo.find((a) => {
    const at = a.lastIndexOf('@');
    return at < 1 || rules.acceptedDomain(a.slice(at + 1)) === undefined;
  });
}
