import { randomBytes } from 'node:crypto';

/** Queue ids: sortable by time, unguessable, and safe as file names everywhere. */
const ID_PATTERN = /^[0-9A-Za-z]{20}$/;

export function newMessageId(now: number = Date.now()): string {
  const time = now.toString(36).toUpperCase().padStart(9, '0').slice(-9);
  const random = randomBytes(8).toString('hex').toUpperCase().slice(0, 11);
  return time + random;
}

/** True only for ids this node could have made; anything else never becomes a path. */
export function isValidMessageId(id: string): boolean {
  return ID_PATTERN.test(id);
}
