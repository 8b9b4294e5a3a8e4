/**
 * The durable reference: a private Postfix instance (its own config folder, queue and log in
 * a temp folder; the machine's /etc/postfix is only read for Postfix's own file lists). It
 * listens on a loopback port, accepts mail for example.test from 127.0.0.0/8, writes every
 * message to its on-disk queue (Postfix's cleanup fsyncs a queue file before smtpd answers
 * 250) and delivers it to the `discard` transport — or, with `relay`, relays it over SMTP to a
 * Postfix `smtp-sink` started beside it, the same downstream and the same job as the Moat
 * scanner's (receive, queue on disk, relay). Delivered = "status=sent" lines in its log file
 * (postlogd writes `maillog_file`; there is no syslog here).
 *
 * Needs root (the master runs as root and drops to the `postfix` user for its daemons).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, openSync, readFileSync, readSync, fstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from './cleanup.ts';
import { freePort, isAlive, killQuietly, makeTempDir, pidsWithCwdUnder, requireExecutable, runCommand, tailFile, waitDead, waitForPort } from './proc.ts';
import { RssMonitor } from './rss.ts';
import { treeCpuWithReapedMs } from './proc-cpu.ts';
import { DeliveryCounter, type Target } from './target.ts';
import { startSmtpSink } from './smtp-sink.ts';

export interface PostfixOptions {
  /** default_process_limit: at least the number of parallel sessions, so each gets an smtpd. */
  processLimit: number;
  keep: boolean;
  /** Relay to an smtp-sink (started and stopped with the instance) instead of discarding. */
  relay?: boolean;
}

function postfixUid(): number {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postfix:'));
  const uid = Number(line?.split(':')[2]);
  if (!line || !Number.isInteger(uid)) throw new Error('no "postfix" user on this machine: install Postfix (apt-get install -y postfix)');
  return uid;
}

function masterCf(port: number): string {
  // Postfix's stock services, every one with chroot off (column 5 = n).
  return `# Private benchmark instance (written by test/bench/lib/postfix-instance.ts)
127.0.0.1:${port} inet n - n - - smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
virtual    unix  -       n       n       -       -       virtual
lmtp       unix  -       -       n       -       -       lmtp
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
`;
}

function mainCf(dir: string, processLimit: number, relayPort: number | undefined): string {
  // Relaying: to the sink by address (brackets: no MX look-up), over Postfix's smtp client,
  // which reuses its connections when mail queues up (smtp_connection_cache_on_demand).
  const transports = relayPort === undefined
    ? 'default_transport = discard\nrelay_transport = discard\nlocal_transport = discard'
    : `default_transport = smtp\nrelay_transport = smtp\nlocal_transport = discard\nrelayhost = [127.0.0.1]:${relayPort}\nsmtp_tls_security_level = none`;
  return `# Private benchmark instance (written by test/bench/lib/postfix-instance.ts)
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix-bench.localhost
mydomain = localhost
mydestination =
relay_domains = example.test
mynetworks = 127.0.0.0/8
${transports}
alias_maps =
alias_database =
biff = no
smtpd_banner = $myhostname ESMTP
default_process_limit = ${processLimit}
`;
}

export async function startPostfix(o: PostfixOptions): Promise<Target> {
  const postfix = requireExecutable('postfix', 'apt-get install -y postfix');
  requireExecutable('postconf', 'apt-get install -y postfix');
  if (process.getuid?.() !== 0) throw new Error('the private Postfix instance needs root (its master runs as root)');
  const uid = postfixUid();
  const port = await freePort();
  const sink = o.relay ? await startSmtpSink(o.keep) : undefined;
  const tmp = makeTempDir('postfix', o.keep);
  const dir = tmp.path;
  const etc = join(dir, 'etc');
  mkdirSync(etc);
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  chownSync(join(dir, 'data'), uid, -1);
  writeFileSync(join(etc, 'main.cf'), mainCf(dir, o.processLimit, sink?.port));
  writeFileSync(join(etc, 'master.cf'), masterCf(port));
  const logFile = join(dir, 'maillog');

  const kill = (): void => {
    for (const pid of pidsWithCwdUnder(dir)) killQuietly(pid, 'SIGKILL');
  };
  const forceStop = (): void => {
    try {
      execFileSync(postfix, ['-c', etc, 'stop'], { timeout: 15_000, stdio: 'ignore' });
    } catch {
      /* fall through to kill */
    }
    kill();
  };
  const unregister = onCleanup(`Postfix instance in ${dir}`, forceStop);

  let masterPid: number;
  try {
    const started = await runCommand(postfix, ['-c', etc, 'start'], 60_000);
    if (started.code !== 0) {
      throw new Error(`postfix -c ${etc} start failed (${started.code}):\n${tailFile(logFile, 2000)}${started.stderr}`);
    }
    masterPid = Number(readFileSync(join(dir, 'queue', 'pid', 'master.pid'), 'utf8').trim());
    const pid = masterPid;
    if (!Number.isInteger(pid) || !isAlive(pid)) throw new Error(`Postfix master is not running:\n${tailFile(logFile, 2000)}`);
    await waitForPort(port, 20_000, 'Postfix smtpd', () => (isAlive(pid) ? undefined : `master exited:\n${tailFile(logFile, 2000)}`));
  } catch (err) {
    forceStop();
    unregister();
    tmp.remove();
    await sink?.stop();
    throw err;
  }
  const monitor = new RssMonitor(masterPid);

  // Count delivery results in the log as it grows (read from the last offset each poll).
  let offset = 0;
  let partial = '';
  let sent = 0;
  let failed = 0;
  let firstFailure = '';
  const readLog = (): number => {
    const fd = openSync(logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size > offset) {
        const buf = Buffer.alloc(size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        const lines = (partial + buf.toString('latin1')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line.includes(' status=sent ')) sent++;
          else if (/ status=(bounced|deferred|expired)/.test(line)) {
            failed++;
            firstFailure ||= line;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    if (failed > 0) throw new Error(`Postfix failed ${failed} deliveries, first: ${firstFailure}`);
    if (!isAlive(masterPid)) throw new Error('Postfix master exited');
    return sent;
  };

  return {
    name: sink ? 'Postfix (disk queue, relay)' : 'Postfix (disk queue)',
    port,
    delivered: new DeliveryCounter(readLog, 50),
    deliveredHow: sink
      ? '"status=sent" lines (relayed to an smtp-sink, which acknowledged the message) in its maillog_file, polled every 50 ms'
      : '"status=sent" (discard transport) lines in its maillog_file, polled every 50 ms',
    rss: () => monitor.finish(),
    cpuMs: () => treeCpuWithReapedMs(masterPid),
    async stop() {
      const r = await runCommand(postfix, ['-c', etc, 'stop'], 30_000).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
      if (r.code !== 0) process.stderr.write(`postfix stop: ${r.stderr}\n`);
      await waitDead(masterPid, 10_000);
      // Daemons exit on their own once the master is gone; give them a moment, then make sure.
      for (let i = 0; i < 40 && pidsWithCwdUnder(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      kill();
      unregister();
      tmp.remove();
      await sink?.stop();
    },
  };
}
