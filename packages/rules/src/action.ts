import type { Action } from './schema.ts';
import type { Reason } from './facts.ts';

/** The order of the closed action vocabulary: a stronger action always wins over a weaker one. */
export const ACTION_STRENGTH: Readonly<Record<Action, number>> = Object.freeze({
  deliver: 0,
  tag: 1,
  quarantine: 2,
  reject: 3,
});

export function strongerAction(a: Action, b: Action): Action {
  return ACTION_STRENGTH[b] > ACTION_STRENGTH[a] ? b : a;
}

/** The strongest action any reason asks for; `deliver` when none asks for one. */
export function strongestAction(reasons: readonly Reason[]): Action {
  let action: Action = 'deliver';
  for (const reason of reasons) if (reason.action !== undefined) action = strongerAction(action, reason.action);
  return action;
}

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && Object.hasOwn(ACTION_STRENGTH, value);
}
