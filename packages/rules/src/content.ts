import type { CompiledContentRule } from './compile.ts';
import type { MessageFacts, Reason } from './facts.ts';
import { clip } from './text.ts';

/**
 * The content-rule stage: one reason per matching rule, carrying its action and score.
 * Each text is matched on its own so `^` and `$` anchor to a header value or line, not to a
 * blob of all headers. The body is scanned as given: the analyzer already bounds its size.
 */
export function contentReasons(rules: readonly CompiledContentRule[], facts: MessageFacts): Reason[] {
  const texts = new MessageTexts(facts);
  const reasons: Reason[] = [];
  for (const rule of rules) {
    const match = firstMatch(rule, texts);
    if (match === undefined) continue;
    reasons.push({ kind: 'content', rule: rule.id, match: clip(match), action: rule.action, score: rule.score });
  }
  return reasons;
}

function firstMatch(rule: CompiledContentRule, texts: MessageTexts): string | undefined {
  for (const text of texts.forTarget(rule)) {
    const m = rule.regex.exec(text);
    if (m !== null) return m[0];
  }
  return undefined;
}

/** The texts of one message, each built at most once however many rules read it. */
class MessageTexts {
  readonly #facts: MessageFacts;
  #lines: readonly string[] | undefined;
  #byName: Map<string, string[]> | undefined;

  constructor(facts: MessageFacts) {
    this.#facts = facts;
  }

  forTarget(rule: CompiledContentRule): readonly string[] {
    switch (rule.target) {
      case 'subject':
        return [this.#facts.subject];
      case 'header':
        return this.#headerValues(rule.header);
      case 'headers':
        return this.#headerLines();
      case 'body':
        return [this.#facts.bodyText];
      case 'any':
        return [this.#facts.subject, ...this.#headerLines(), this.#facts.bodyText];
    }
  }

  #headerLines(): readonly string[] {
    this.#lines ??= this.#facts.headers.map((h) => `${h.name}: ${h.value}`);
    return this.#lines;
  }

  #headerValues(name: string): readonly string[] {
    if (this.#byName === undefined) {
      this.#byName = new Map();
      for (const h of this.#facts.headers) {
        const key = h.name.toLowerCase();
        const values = this.#byName.get(key);
        if (values === undefined) this.#byName.set(key, [h.value]);
        else values.push(h.value);
      }
    }
    return this.#byName.get(name) ?? [];
  }
}
