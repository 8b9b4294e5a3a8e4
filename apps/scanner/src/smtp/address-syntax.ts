/**
 * The syntax of an envelope address (RFC 5321 §4.1.2 `Mailbox`, with RFC 6531's UTF-8), pure.
 *
 * smtp-server takes whatever stands between `<` and `>`: `RCPT TO:<(?:@example.test>` came
 * through as the address `(?:@example.test`, was answered 250, queued, and then could never be
 * relayed (nodemailer parses `(…)` as a comment and finds no recipient), so it was retried
 * until the queue's maximum age (found by the SMTP fuzzer). An address that is not a mailbox
 * is refused at MAIL FROM / RCPT TO instead, where the client still gets the error.
 *
 * Accepted: `local@domain` where local is a dot-atom (RFC 5321 atext, or any non-ASCII
 * character for SMTPUTF8) or a quoted string of printable ASCII (and non-ASCII), and domain is
 * dot-separated labels of letters, digits, hyphens (not at either end) or non-ASCII, or an
 * address literal in brackets (`[192.0.2.1]`, `[IPv6:…]`); the empty reverse path (`<>`) for
 * MAIL FROM; `Postmaster` without a domain for RCPT TO (RFC 5321 §4.5.1). No length limits
 * beyond the command line's: real mail has local parts longer than 64 octets.
 */
const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u0080-\\u{10FFFF}]";
const DOT_ATOM = `${ATEXT}+(?:\\.${ATEXT}+)*`;
// qtextSMTP (%d32-33 / %d35-91 / %d93-126) or quoted-pairSMTP (%d92 %d32-126), and UTF-8.
const QUOTED = '"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e\\u0080-\\u{10FFFF}]|\\\\[\\x20-\\x7e])*"';
const LABEL = '[A-Za-z0-9\\u0080-\\u{10FFFF}](?:[A-Za-z0-9\\-\\u0080-\\u{10FFFF}]*[A-Za-z0-9\\u0080-\\u{10FFFF}])?';
const DOMAIN = `${LABEL}(?:\\.${LABEL})*`;
// dcontent of RFC 5321's General-address-literal: printable ASCII but `[`, `\` and `]`.
const LITERAL = '\\[[\\x21-\\x5a\\x5e-\\x7e]+\\]';
const MAILBOX = new RegExp(`^(?:${DOT_ATOM}|${QUOTED})@(?:${DOMAIN}|${LITERAL})$`, 'u');

export type AddressRole = 'sender' | 'recipient';

/** Whether `address` (as smtp-server parsed it, without the angle brackets) may stand in the envelope. */
export function isEnvelopeAddress(address: string, role: AddressRole): boolean {
  if (address === '') return role === 'sender';
  if (role === 'recipient' && address.toLowerCase() === 'postmaster') return true;
  return MAILBOX.test(address);
}
