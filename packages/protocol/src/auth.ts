import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh 32-byte nonce for a challenge, hex. */
export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

/** A new node credential (32 random bytes, hex); the master stores only its hash. */
export function newCredential(): string {
  return randomBytes(32).toString('hex');
}

/** The hello proof: HMAC-SHA256(key, "moat-hello:v1:" + nodeName + ":" + nonce). */
export function helloProof(key: string, nodeName: string, nonce: string): string {
  return createHmac('sha256', key).update(`moat-hello:v1:${nodeName}:${nonce}`).digest('hex');
}

export function proofMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(given, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
