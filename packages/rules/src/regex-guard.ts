/** Longer expressions are refused: they are hard to review and slow to run on every message. */
export const MAX_REGEX_CHARS = 1000;

/** What is wrong with a content rule's regular expression, or undefined when it is usable. */
export function regexProblem(source: string, flags: string): string | undefined {
  if (source.length > MAX_REGEX_CHARS) return `is longer than ${MAX_REGEX_CHARS} characters`;
  try {
    new RegExp(source, flags);
  } catch (err) {
    return `does not compile: ${(err as Error).message.slice(0, 200)}`;
  }
  if (hasNestedQuantifier(source)) {
    return 'repeats a group whose body can repeat on its own, like (a+)+ (catastrophic backtracking); separate the repetitions with a required character';
  }
  return undefined;
}

/**
 * A cheap guard against the commonest catastrophic-backtracking shape, not a proof of safety.
 *
 * A group is flagged when it is repeated without bound (`*`, `+`, `{n,}`) and one of its
 * alternatives holds an unbounded repetition but no required character to separate one round
 * from the next: `(a+)+`, `(\w+\s?)*`, `((ab)+)+`, `(a|a+)+`, `(.*.)+`. A required literal or
 * class keeps the rounds apart, so the everyday `(\w+\.)+` passes. `.` never counts as a
 * separator since it matches anything the repetition does. Overlap between a separator and the
 * repeated class (`(a+a)+`) is not detected; the analyzer's bound on body size caps the rest.
 */
export function hasNestedQuantifier(source: string): boolean {
  const stack: Frame[] = [newFrame()];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    const top = stack[stack.length - 1] ?? newFrame();
    if (ch === '(') {
      stack.push(newFrame());
      i += /^\(\?(?:[:=!]|<[=!]|<[^>]*>|[a-z-]*:)/.exec(source.slice(i, i + 40))?.[0].length ?? 1;
      continue;
    }
    if (ch === '|') {
      endBranch(top);
      i += 1;
      continue;
    }
    let risky = false;
    let separator = true;
    if (ch === ')' && stack.length > 1) {
      stack.pop();
      endBranch(top);
      risky = top.risky;
      separator = top.allSeparated;
      i += 1;
    } else if (ch === '\\') {
      separator = !/[bB]/.test(source[i + 1] ?? '');
      i += 2;
    } else if (ch === '[') {
      i = endOfClass(source, i);
    } else {
      separator = ch !== '.' && ch !== '^' && ch !== '$';
      i += 1;
    }
    const q = quantifierAt(source, i);
    if (risky && q.unbounded) return true;
    const parent = stack[stack.length - 1] ?? newFrame();
    parent.unbounded ||= risky || q.unbounded;
    parent.separated ||= separator && q.min >= 1 && !q.unbounded;
    i += q.length;
  }
  return false;
}

interface Frame {
  unbounded: boolean; // the current alternative holds an unbounded repetition
  separated: boolean; // the current alternative holds a required separator
  risky: boolean; // some finished alternative repeats with no separator
  allSeparated: boolean; // every finished alternative has a separator
}

function newFrame(): Frame {
  return { unbounded: false, separated: false, risky: false, allSeparated: true };
}

function endBranch(frame: Frame): void {
  frame.risky ||= frame.unbounded && !frame.separated;
  frame.allSeparated &&= frame.separated;
  frame.unbounded = false;
  frame.separated = false;
}

function quantifierAt(source: string, i: number): { length: number; min: number; unbounded: boolean } {
  const ch = source[i];
  let q = { length: 0, min: 1, unbounded: false };
  if (ch === '*' || ch === '+') q = { length: 1, min: ch === '+' ? 1 : 0, unbounded: true };
  else if (ch === '?') q = { length: 1, min: 0, unbounded: false };
  else if (ch === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
    if (m) q = { length: m[0].length, min: Number(m[1]), unbounded: m[2] !== undefined && m[3] === '' };
  }
  if (q.length > 0 && source[i + q.length] === '?') q.length += 1; // lazy suffix
  return q;
}

function endOfClass(source: string, start: number): number {
  let i = start + 1;
  while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
  return i + 1;
}
