import type { Action, Retention } from '@moat/rules';

/**
 * Whether an accepted message keeps a copy under the cluster's retention settings. Rejected
 * mail never does (it was refused, the sender still has it); a message larger than the whole
 * budget neither (it would only evict everything else and then itself).
 */
export function shouldRetain(settings: Retention, action: Action, size: number): boolean {
  if (!settings.enabled || action === 'reject') return false;
  return settings.verdicts.includes(action) && size <= settings.maxBytes;
}
