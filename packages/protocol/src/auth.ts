import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

/** A fresh 32-byte nonce for a challenge, hex. */
export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

// ── node identity: each scanner's own Ed25519 key pair (docs/cluster.md, "Joining") ──
// The master keeps only public keys, so nothing in its database lets anyone pass for a node.

/** The text a hello signs: the node's name and the master's fresh nonce (a replay carries an old nonce). */
const helloMessage = (nodeName: string, nonce: string) => Buffer.from(`moat-hello:v2:${nodeName}:${nonce}`);

/** A new node key pair: the private key as PKCS#8 PEM (kept 0600 by the node), the public key as base64url (32 bytes). */
export function newNodeKeyPair(): { privateKeyPem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: publicKeyText(publicKey) };
}

/** The base64url raw public key of a PEM private key or a key object. */
export function publicKeyText(key: KeyObject | string): string {
  const pub = typeof key === 'string' ? createPublicKey(createPrivateKey(key)) : key.type === 'private' ? createPublicKey(key) : key;
  return String(pub.export({ format: 'jwk' }).x);
}

/** The hello proof: an Ed25519 signature (hex, 64 bytes) of "moat-hello:v2:" + nodeName + ":" + nonce. */
export function helloSignature(privateKeyPem: string | KeyObject, nodeName: string, nonce: string): string {
  return sign(null, helloMessage(nodeName, nonce), privateKeyPem).toString('hex');
}

/** Does `signature` prove that the holder of `publicKey` (base64url) answered this nonce? False for anything malformed. */
export function helloVerifies(publicKey: string, nodeName: string, nonce: string, signature: string): boolean {
  if (!/^[A-Za-z0-9_-]{43}$/.test(publicKey) || !/^[0-9a-f]{128}$/.test(signature)) return false;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    return verify(null, helloMessage(nodeName, nonce), key, Buffer.from(signature, 'hex'));
  } catch {
    return false; // not a point on the curve: a forged key proves nothing
  }
}

/** A one-time join token (32 random bytes), as the admin hands it to a new node. */
export function newJoinToken(): string {
  return `moat-join-${randomBytes(32).toString('hex')}`;
}

/** What the master stores of a join token: its SHA-256 (the token is random, so no salt is needed). */
export function joinTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Pattern of a join token on the wire and in configs. */
export const JOIN_TOKEN_PATTERN = '^moat-join-[0-9a-f]{64}$';
