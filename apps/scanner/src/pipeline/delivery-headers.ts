import type { Verdict } from '@moat/rules';

/** Header lines prepended to a delivered message: a trace header, and the verdict when tagged. */
export function deliveryHeaders(
  env: { id: string; receivedAt: number; clientIp: string; helo: string; rcptTo: readonly string[]; tls: boolean },
  verdict: Verdict,
  node: { hostname: string; nodeName: string },
): string[] {
  const helo = env.helo.replace(/[^\x21-\x7e]/g, '').slice(0, 100) || 'unknown';
  const forClause = env.rcptTo.length === 1 ? `\r\n\tfor <${env.rcptTo[0]}>` : '';
  const lines = [
    `Received: from ${helo} ([${env.clientIp}])\r\n\tby ${node.hostname} (Moat) with ${env.tls ? 'ESMTPS' : 'ESMTP'} id ${env.id}${forClause};\r\n\t${new Date(env.receivedAt).toUTCString()}`,
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
