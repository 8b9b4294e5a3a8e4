import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { findBinary, startDaemon } from './daemon.ts';
import { freePort, readyOrStop, workDir } from './workdir.ts';

export interface Slapd {
  /** `ldap://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly suffix: string;
  readonly rootDn: string;
  readonly rootPassword: string;
  readonly pid: number;
  /** `ldaps://127.0.0.1:PORT` when started with `tls` (StartTLS is offered on `url` then too). */
  readonly ldapsUrl?: string;
  /** Add entries (LDIF) with ldapadd, bound as the root DN. */
  add(ldif: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SlapdOptions {
  /** Default `dc=example,dc=test`. */
  readonly suffix?: string;
  readonly rootPassword?: string;
  readonly startTimeoutMs?: number;
  /**
   * PEM files of the server's certificate and key: slapd then listens for LDAPS on a second
   * port (`ldapsUrl`) and offers StartTLS on `url`. The certificate must name 127.0.0.1 (an
   * `IP:` subjectAltName) for a client that verifies it.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/**
 * A private OpenLDAP slapd on 127.0.0.1 (Debian packages slapd and ldap-utils), standing in
 * for an organisation's directory in the recipient-verification tests and benchmarks: a
 * ten-line slapd.conf (core, cosine, inetorgperson, one mdb database) plus Active Directory's
 * `proxyAddresses` (multi-valued, compared without regard to case, as AD does) on an auxiliary
 * class `moatMailbox`, so the AD filter runs unchanged. Foreground (`-d 0`), stopped by its pid.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const binary = findBinary('slapd');
  if (!binary) throw new Error('slapd is not installed (Debian package slapd)');
  const ldapadd = findBinary('ldapadd');
  if (!ldapadd) throw new Error('ldapadd is not installed (Debian package ldap-utils)');
  const suffix = options.suffix ?? 'dc=example,dc=test';
  const rootDn = `cn=admin,${suffix}`;
  const rootPassword = options.rootPassword ?? 'moat-test-root';
  const tmp = workDir('slapd');
  const port = await freePort();
  const ldapsPort = options.tls ? await freePort() : undefined;
  const conf = join(tmp.path, 'slapd.conf');
  writeFileSync(conf, [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    // Active Directory's attribute (1.2.840.113556.1.2.210), case-insensitive like AD's.
    "attributetype ( 1.2.840.113556.1.2.210 NAME 'proxyAddresses' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "objectclass ( 1.3.6.1.4.1.99999.19.1 NAME 'moatMailbox' SUP top AUXILIARY MAY proxyAddresses )",
    `pidfile ${join(tmp.path, 'slapd.pid')}`,
    ...(options.tls ? [`TLSCertificateFile ${options.tls.certFile}`, `TLSCertificateKeyFile ${options.tls.keyFile}`] : []),
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'database mdb',
    `suffix "${suffix}"`,
    `rootdn "${rootDn}"`,
    `rootpw ${rootPassword}`,
    `directory ${tmp.path}`,
    'maxsize 10485760',
    '',
  ].join('\n'));
  const urls = [`ldap://127.0.0.1:${port}/`, ...(ldapsPort ? [`ldaps://127.0.0.1:${ldapsPort}/`] : [])];
  const daemon = startDaemon(binary, ['-f', conf, '-h', urls.join(' '), '-d', '0']);
  const stop = await readyOrStop('slapd', daemon, tmp, async () => (await listening(port)) && (ldapsPort === undefined || (await listening(ldapsPort))), options.startTimeoutMs ?? 20_000, 20);
  const url = `ldap://127.0.0.1:${port}`;
  const add = (ldif: string): Promise<void> => new Promise((resolve, reject) => {
    const child = spawn(ldapadd, ['-x', '-H', url, '-D', rootDn, '-w', rootPassword], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ldapadd exited ${code}: ${err.slice(0, 1000)}`))));
    child.stdin.end(ldif);
  });
  await add(`dn: ${suffix}\nobjectClass: dcObject\nobjectClass: organization\no: Moat test\ndc: ${suffix.split(',')[0]!.split('=')[1]}\n`);
  return {
    url, port, suffix, rootDn, rootPassword, pid: daemon.child.pid!, add,
    ...(ldapsPort ? { ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}` } : {}),
    stop,
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
