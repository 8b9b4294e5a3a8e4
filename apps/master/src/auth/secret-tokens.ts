import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Session and API tokens are 256-bit random strings. Only their SHA-256 is stored: a fast hash
 * is right here (unlike passwords) because the input cannot be guessed, and it lets a lookup
 * find the row by hash.
 */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests of the same length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
