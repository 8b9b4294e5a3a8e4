import type { CompiledRules } from '@moat/rules';

/**
 * Where a scanner's rules come from. The scanner only reads `current()` (a snapshot taken per
 * transaction) and listens for changes; a file today, the master's pushes tomorrow.
 */
export interface RulesSource {
  current(): CompiledRules;
  onChange(listener: (rules: CompiledRules) => void): void;
  close(): void;
}
