import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary, startDaemon } from './daemon.ts';
import { tcpPing } from './tcp-ping.ts';
import { freePort, readyOrStop, workDir } from './workdir.ts';

/** The EICAR test file (68 bytes), built from pieces so this source file is not itself a "virus". */
export const EICAR = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}', '$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!', '$H+H*'].join('');

/** Where Debian's freshclam keeps ClamAV's signatures. */
export const SYSTEM_CLAMAV_DB = '/var/lib/clamav';

export interface Clamd {
  readonly port: number;
  /** Its unix socket. */
  readonly socket: string;
  readonly dir: string;
  /** `system`: the signatures freshclam downloaded; `test`: only the EICAR signature this module writes. */
  readonly signatures: 'system' | 'test';
  readonly pid: number;
  stop(): Promise<void>;
}

export interface ClamdOptions {
  readonly dir?: string;
  /** Use freshclam's signatures in /var/lib/clamav when they are there (default: the EICAR test signature only). */
  readonly systemSignatures?: boolean;
  /** clamd's heuristics, off unless asked (`AlertOLE2Macros`, `AlertEncrypted`): they report `Heuristics.*` names. */
  readonly alertOle2Macros?: boolean;
  readonly alertEncrypted?: boolean;
  readonly streamMaxLength?: string;
}

/** True when freshclam has put a main or daily database in /var/lib/clamav. */
export function systemSignaturesPresent(): boolean {
  return ['main.cvd', 'main.cld', 'daily.cvd', 'daily.cld'].some((f) => existsSync(join(SYSTEM_CLAMAV_DB, f)));
}

/**
 * A private clamd on 127.0.0.1. Without signatures clamd refuses to start, and none can be
 * downloaded here: it gets an `.ndb` body signature of the EICAR string (also found inside
 * MIME, base64 and zip), or freshclam's database when asked and present. Ready when it
 * answers PING; stopped by its pid.
 */
export async function startClamd(options: ClamdOptions = {}): Promise<Clamd> {
  const binary = findBinary('clamd');
  if (!binary) throw new Error('clamd is not installed (Debian package clamav-daemon)');
  const tmp = workDir('clamd', options.dir);
  const port = await freePort();
  const system = options.systemSignatures === true && systemSignaturesPresent();
  writeFileSync(join(tmp.path, 'moat-test.ndb'), `Moat.Test.EICAR:0:*:${Buffer.from(EICAR).toString('hex')}\n`);
  const conf = join(tmp.path, 'clamd.conf');
  writeFileSync(
    conf,
    [
      'Foreground yes',
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `DatabaseDirectory ${system ? SYSTEM_CLAMAV_DB : tmp.path}`,
      `TemporaryDirectory ${tmp.path}`,
      `LogFile ${join(tmp.path, 'clamd.log')}`,
      `PidFile ${join(tmp.path, 'clamd.pid')}`,
      `LocalSocket ${join(tmp.path, 'clamd.sock')}`,
      `StreamMaxLength ${options.streamMaxLength ?? '2M'}`,
      `AlertOLE2Macros ${options.alertOle2Macros ? 'yes' : 'no'}`,
      `AlertEncrypted ${options.alertEncrypted ? 'yes' : 'no'}`,
      '',
    ].join('\n'),
  );
  const daemon = startDaemon(binary, ['--config-file', conf]);
  const stop = await readyOrStop('clamd', daemon, tmp, () => ping(port), system ? 120_000 : 20_000, 20);
  return {
    port,
    socket: join(tmp.path, 'clamd.sock'),
    dir: tmp.path,
    signatures: system ? 'system' : 'test',
    pid: daemon.child.pid!,
    stop,
  };
}

function ping(port: number): Promise<boolean> {
  return tcpPing(port, 'zPING\0', (reply) => reply.startsWith('PONG'));
}
