import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { findBinary, startDaemon, type Daemon } from './daemon.ts';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';
import { sleep } from './wait.ts';

export const CLAMD = findBinary('clamd');
export const CLAMD_SKIP = CLAMD ? false : 'clamd is not installed (Debian package clamav-daemon; CI installs it)';

/** The EICAR test file (68 bytes), built from pieces so this source file is not itself a "virus". */
export const EICAR = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}', '$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!', '$H+H*'].join('');

export interface Clamd {
  readonly port: number;
  /** Its unix socket. */
  readonly socket: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * A private clamd on 127.0.0.1 with one signature the test writes itself (no download): an
 * `.ndb` body signature of the EICAR string, which clamd also finds inside MIME, base64 and
 * zip. Ready when it answers PING; stopped by its pid.
 */
export async function startClamd(): Promise<Clamd> {
  if (!CLAMD) throw new Error(String(CLAMD_SKIP));
  const tmp = tempDir('clamd');
  const port = await freePort();
  writeFileSync(join(tmp.path, 'moat-test.ndb'), `Moat.Test.EICAR:0:*:${Buffer.from(EICAR).toString('hex')}\n`);
  const conf = join(tmp.path, 'clamd.conf');
  writeFileSync(
    conf,
    [
      'Foreground yes',
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `DatabaseDirectory ${tmp.path}`,
      `TemporaryDirectory ${tmp.path}`,
      `LogFile ${join(tmp.path, 'clamd.log')}`,
      `PidFile ${join(tmp.path, 'clamd.pid')}`,
      `LocalSocket ${join(tmp.path, 'clamd.sock')}`,
      'StreamMaxLength 2M',
      '',
    ].join('\n'),
  );
  const daemon: Daemon = startDaemon(CLAMD, ['--config-file', conf]);
  const deadline = Date.now() + 20_000;
  while (!(await ping(port))) {
    if (daemon.child.exitCode !== null || Date.now() > deadline) {
      await daemon.stop();
      tmp.cleanup();
      throw new Error(`clamd did not start: ${daemon.output()}`);
    }
    await sleep(20);
  }
  return {
    port,
    socket: join(tmp.path, 'clamd.sock'),
    dir: tmp.path,
    async stop() {
      await daemon.stop();
      tmp.cleanup();
    },
  };
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    s.on('connect', () => s.write('zPING\0'));
    s.on('data', (d) => (reply += d.toString()));
    s.on('close', () => resolve(reply.startsWith('PONG')));
    s.on('error', () => resolve(false));
    s.setTimeout(1000, () => s.destroy());
  });
}
