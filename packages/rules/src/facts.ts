import type { Action } from './schema.ts';

/** What the analyzers found out about one message; the rule engine decides from this alone. */
export interface MessageFacts {
  readonly clientIp: string;
  readonly mailFrom: string; // '' for the null sender
  readonly rcptTo: readonly string[];
  readonly sizeBytes: number;
  /** Header lines in order; names as sent (matching is case-insensitive), values unfolded and decoded. */
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly subject: string;
  /** Decoded text of the text parts (html converted to text), possibly truncated by the analyzer. */
  readonly bodyText: string;
  readonly attachments: readonly AttachmentFact[];
  /** Set by a virus analyzer; a virus verdict is never overridden by an allow-list. */
  readonly virus?: { readonly name: string; readonly action: 'quarantine' | 'reject' } | undefined;
  /** Set by the sender-authentication analyzer (SPF, DKIM, DMARC, ARC); `authentication` in the rules acts on it. */
  readonly auth?: AuthFacts | undefined;
  /**
   * Scores from other analyzers (spam engine, DNSBL, URIBL…), added to the rule scores. An
   * entry may also ask for an action (e.g. Rspamd's `reject` mapped by the scanner config);
   * `deliver` or anything outside the vocabulary is ignored.
   */
  readonly extraScores?: readonly { readonly id: string; readonly score: number; readonly detail: string; readonly action?: Action | undefined }[] | undefined;
}

/** RFC 8601 result words: pass, fail, softfail, neutral, none, temperror, permerror (policy for DKIM). */
export type AuthResult = string;

export interface AuthFacts {
  /** SPF for MAIL FROM (or HELO for the null sender) from the real client address. */
  readonly spf: { readonly result: AuthResult; readonly domain: string };
  /** The best DKIM result: `pass` when any signature passed, else the first signature's, `none` without one. */
  readonly dkim: { readonly result: AuthResult; readonly domain: string };
  /** DMARC for the From domain; `policy` is what the domain publishes (p=, or sp= for a subdomain). */
  readonly dmarc: { readonly result: AuthResult; readonly domain: string; readonly policy: 'none' | 'quarantine' | 'reject' | '' };
  /** `sealer`: the signing domain of the newest ARC set ('' when there is none). */
  readonly arc: { readonly result: AuthResult; readonly sealer?: string };
}

export interface AttachmentFact {
  readonly filename: string; // '' when the part has no name
  readonly contentType: string; // lower-case
  readonly sizeBytes: number;
  /** File names inside an archive, when the analyzer looked inside one. */
  readonly archiveEntries?: readonly string[] | undefined;
  /** The type its first bytes show (`application/x-msdownload` for an MZ executable), lower-case; absent when not recognised. */
  readonly detectedType?: string | undefined;
  /** The usual extension of `detectedType` (`exe`), lower-case, no dot. */
  readonly detectedExtension?: string | undefined;
}

/** Why a verdict was reached: which rule or list, and what matched. */
export interface Reason {
  readonly kind: 'ip-list' | 'sender-list' | 'recipient-list' | 'content' | 'attachment' | 'size' | 'score' | 'virus' | 'analyzer';
  /** The rule id, list name or analyzer id. */
  readonly rule: string;
  /** What matched: the entry, the text, the file name. Truncated to 200 characters. */
  readonly match: string;
  readonly action?: Action | undefined;
  readonly score?: number | undefined;
}

export interface Verdict {
  readonly action: Action;
  readonly score: number;
  /** True when an allow-list hit decided the message (scoring and block rules skipped). */
  readonly allowed: boolean;
  readonly reasons: readonly Reason[];
  /** SMTP reply text for a reject, from the strongest reason. */
  readonly rejectText?: string | undefined;
  readonly rulesVersion: number;
}

/** The answer of an envelope-stage check (connect, MAIL FROM, RCPT TO). */
export type EnvelopeDecision =
  | { readonly ok: true; readonly allowed: boolean; readonly reason?: Reason | undefined }
  | { readonly ok: false; readonly code: number; readonly enhanced: string; readonly text: string; readonly reason: Reason };
