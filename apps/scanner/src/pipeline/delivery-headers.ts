import type { Verdict } from '@moat/rules';

/**
 * Our trace header (RFC 5321 4.4), folded: the client as it said hello and as it connected (the
 * PROXY client when behind a balancer). Also what SpamAssassin reads to find the last untrusted
 * relay, so the spam analyzer sends the same line ahead of the message.
 */
export function receivedHeader(t: { helo: string; clientIp: string; clientHostname?: string; hostname: string; tls: boolean; id?: string; rcptTo?: readonly string[]; at: number }): string {
  const helo = t.helo.replace(/[^\x21-\x7e]/g, '').slice(0, 100) || 'unknown';
  const id = t.id ? ` id ${t.id}` : '';
  const forClause = t.rcptTo?.length === 1 ? `\r\n\tfor <${t.rcptTo[0]}>` : '';
  // As Postfix writes it: the verified name, or none (SpamAssassin's parser reads both forms).
  const client = t.clientHostname ? `${t.clientHostname} [${t.clientIp}]` : `[${t.clientIp}]`;
  return `Received: from ${helo} (${client})\r\n\tby ${t.hostname} (Moat) with ${t.tls ? 'ESMTPS' : 'ESMTP'}${id}${forClause};\r\n\t${new Date(t.at).toUTCString()}`;
}

/** Header lines prepended to a delivered message: a trace header, and the verdict when tagged. */
export function deliveryHeaders(
  env: { id: string; receivedAt: number; clientIp: string; clientHostname?: string; helo: string; rcptTo: readonly string[]; tls: boolean },
  verdict: Verdict,
  node: { hostname: string; nodeName: string },
): string[] {
  const lines = [
    receivedHeader({ helo: env.helo, clientIp: env.clientIp, clientHostname: env.clientHostname, hostname: node.hostname, tls: env.tls, id: env.id, rcptTo: env.rcptTo, at: env.receivedAt }),
    `X-Moat-Node: ${node.nodeName}`,
    `X-Moat-Verdict: ${verdict.action}${verdict.allowed ? ' (allow-listed)' : ''}`,
  ];
  if (verdict.action === 'tag') {
    lines.push(`X-Moat-Score: ${verdict.score.toFixed(1)}`);
    const reasons = verdict.reasons.map((r) => `${r.kind}:${r.rule}`).join(', ').replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
    if (reasons) lines.push(`X-Moat-Reasons: ${reasons}`);
  }
  return lines;
}
