import type { Reason } from './facts.ts';

/**
 * The end-of-DATA reply text for a reject, from the reason that decided it. Only the rule id
 * and the already clipped, control-free match are used, so the text carries no CR/LF and at
 * most 200 characters that the sender chose.
 */
export function rejectText(reasons: readonly Reason[], maxMessageBytes: number): string {
  const reason = reasons.find((r) => r.action === 'reject');
  if (reason === undefined) return 'Message refused by policy';
  switch (reason.kind) {
    case 'virus':
      return `Message refused: virus found (${reason.match})`;
    case 'attachment':
      return `Message refused: attachment not allowed by policy (${reason.match})`;
    case 'size':
      return `Message refused: message size exceeds the limit of ${maxMessageBytes} bytes`;
    case 'content':
      return `Message refused by content rule ${reason.rule}`;
    case 'score':
      return `Message refused: ${reason.match}`;
    default:
      return `Message refused by policy (${reason.rule})`;
  }
}
