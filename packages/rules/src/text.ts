/** The longest piece of message-controlled text a reason or an SMTP reply ever carries. */
export const MAX_MATCH_CHARS = 200;

/**
 * Make untrusted text safe to put in a reason, a log line or an SMTP reply: control characters
 * (CR/LF above all, which would let a sender inject reply lines) become spaces, and the text is
 * cut to at most `max` characters without splitting a surrogate pair.
 */
export function clip(text: string, max = MAX_MATCH_CHARS): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  if (flat.length <= max) return flat;
  // One character goes to the ellipsis, so the result never exceeds `max`.
  const end = isHighSurrogate(flat.charCodeAt(max - 2)) ? max - 2 : max - 1;
  return `${flat.slice(0, end)}…`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
