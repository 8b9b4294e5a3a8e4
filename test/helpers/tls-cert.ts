import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';

/**
 * A throw-away self-signed certificate from Debian's openssl (valid one day) in a temp folder:
 * the key and certificate files, the SHA-256 fingerprint a node pins, and a pin that differs
 * from it (for the "a wrong pin never connects" cases); `cleanup` removes the folder.
 * `altNames` (`IP:127.0.0.1`, `DNS:localhost`) go in subjectAltName, which a TLS client that
 * checks the host name needs for an IP address (the common name is never matched to one); the
 * certificate is then its own CA, the `ca` a client verifies it against.
 */
export function selfSignedCert(commonName: string, options: { altNames?: readonly string[] } = {}): { key: string; cert: string; fingerprint: string; wrongPin: string; cleanup: () => void } {
  const tmp = tempDir('tls-cert');
  const dir = tmp.path;
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${commonName}`,
    ...(options.altNames?.length ? ['-addext', `subjectAltName=${options.altNames.join(',')}`] : [])], { stdio: 'ignore' });
  const fingerprint = new X509Certificate(readFileSync(cert)).fingerprint256;
  const wrongPin = fingerprint.replace(/^../, fingerprint.startsWith('AA') ? 'BB' : 'AA');
  return { key, cert, fingerprint, wrongPin, cleanup: () => tmp.cleanup() };
}
