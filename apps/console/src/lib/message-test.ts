/**
 * "Test a message" (issue 20): the pure parts of the page. The answer's shape mirrors the API's
 * (`POST /api/v1/messages/test`, packages/protocol/src/message-test.ts); the score bars say
 * which signal contributed how much; the rules editor's unsaved draft is kept in the tab's
 * sessionStorage so this page can test with it.
 */

export interface TestReason {
  readonly kind: string;
  readonly rule: string;
  readonly match: string;
  readonly action?: string;
  readonly score?: number;
}

export interface TestStage {
  readonly stage: 'connect' | 'mail' | 'rcpt' | 'data';
  readonly subject: string;
  readonly ok: boolean;
  readonly allowed: boolean;
  readonly reply: string;
  readonly reason?: TestReason;
}

export interface TestAnswer {
  readonly node: string;
  readonly rules: number | 'draft';
  readonly modelVersion: string;
  readonly envelope: readonly TestStage[];
  readonly refusedAt: TestStage['stage'] | null;
  readonly verdict: {
    readonly action: string;
    readonly score: number;
    readonly allowed: boolean;
    readonly reasons: readonly TestReason[];
    readonly reply: string;
    readonly thresholds: { readonly tag: number; readonly quarantine: number; readonly reject: number };
  };
  readonly analyzers: readonly string[];
  readonly tempFail?: { readonly analyzer: string; readonly detail: string };
  readonly message: { readonly size: number; readonly subject: string; readonly attachments: number };
}

export interface ScoreBar {
  readonly reason: TestReason;
  /** The bar's length, 0 to 100, against the scale (the reject threshold, or the largest score if bigger). */
  readonly percent: number;
  /** A negative score pulls the message towards delivery. */
  readonly negative: boolean;
}

/** Each reason with its bar: the length of its score against one scale for all, so bars compare. */
export function scoreBars(reasons: readonly TestReason[], rejectAt: number): ScoreBar[] {
  const scale = Math.max(rejectAt, ...reasons.map((r) => Math.abs(r.score ?? 0)), 1e-9);
  return reasons.map((reason) => {
    const s = reason.score ?? 0;
    return { reason, percent: Math.round((Math.abs(s) / scale) * 1000) / 10, negative: s < 0 };
  });
}

/** Where the total stands against the thresholds, as percentages of the same scale as the bars. */
export function thresholdMarks(t: TestAnswer['verdict']['thresholds'], reasons: readonly TestReason[]): { name: string; at: number; percent: number }[] {
  const scale = Math.max(t.reject, ...reasons.map((r) => Math.abs(r.score ?? 0)), 1e-9);
  return (['tag', 'quarantine', 'reject'] as const).map((name) => ({ name, at: t[name], percent: Math.round((t[name] / scale) * 1000) / 10 }));
}

/** An uploaded file's bytes as base64 (the API's `messageBase64`), in slices so a big file does not overflow the call stack. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const DRAFT_KEY = 'moat.rules-draft';

export interface RulesDraft {
  readonly document: Record<string, unknown>;
  /** The version the draft was edited from. */
  readonly baseVersion: number | undefined;
  readonly at: string;
}

/** The rules editor keeps its unsaved edit here (this tab only); none when it equals the stored version. */
export function keepRulesDraft(storage: Pick<Storage, 'setItem' | 'removeItem'>, document: Record<string, unknown> | undefined, baseVersion: number | undefined, now = new Date()): void {
  if (document === undefined) storage.removeItem(DRAFT_KEY);
  else storage.setItem(DRAFT_KEY, JSON.stringify({ document, baseVersion, at: now.toISOString() }));
}

export function readRulesDraft(storage: Pick<Storage, 'getItem'>): RulesDraft | undefined {
  try {
    const d = JSON.parse(storage.getItem(DRAFT_KEY) ?? 'null') as RulesDraft | null;
    return d && typeof d.document === 'object' && d.document !== null ? d : undefined;
  } catch {
    return undefined; // a damaged entry is no draft
  }
}

/** Same document, whatever the order of keys (the editor's draft against the stored version). */
export function sameDocument(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).filter((k) => k !== 'version').sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}
