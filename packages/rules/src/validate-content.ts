import type { FieldError } from '@moat/config';
import { regexProblem } from './regex-guard.ts';
import type { ContentRule } from './schema.ts';

/** The content-rule checks that the schema cannot express; disabled rules are checked too. */
export function checkContentRules(rules: readonly ContentRule[]): FieldError[] {
  const errors: FieldError[] = [];
  const firstIndexOf = new Map<string, number>();
  rules.forEach((rule, i) => {
    const key = `content.${i}`;
    if ((rule.contains === undefined) === (rule.regex === undefined)) {
      errors.push({ key, message: 'needs exactly one of contains or regex' });
    }
    if (rule.action === undefined && rule.score === undefined) {
      errors.push({ key, message: 'needs an action, a score, or both' });
    }
    if (rule.target === 'header' && rule.header === undefined) {
      errors.push({ key: `${key}.header`, message: 'is required when target is header' });
    }
    // A header name with another target is ignored at run time: almost surely a mistake.
    if (rule.target !== 'header' && rule.header !== undefined) {
      errors.push({ key: `${key}.header`, message: `is only used with target header, not ${rule.target}` });
    }
    if (rule.regex !== undefined) {
      const problem = regexProblem(rule.regex, rule.caseInsensitive ? 'i' : '');
      if (problem !== undefined) errors.push({ key: `${key}.regex`, message: problem });
    }
    const first = firstIndexOf.get(rule.id);
    if (first === undefined) firstIndexOf.set(rule.id, i);
    else errors.push({ key: `${key}.id`, message: `duplicates content.${first}.id (${rule.id})` });
  });
  return errors;
}
