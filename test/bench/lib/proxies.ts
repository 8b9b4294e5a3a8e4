/**
 * The TCP proxies the balancer benchmark compares, each started on a free loopback port in its
 * own temp folder and stopped by pid, all in front of one upstream: a Postfix `smtp-sink`
 * (`upstream: sink`, the proxy's own cost against the cheapest peer there is) or a Moat scanner
 * relaying to one (`upstream: scanner`, what the balancer fronts in production):
 * - direct: no proxy, the load goes to the sink itself (the latency baseline);
 * - Moat balancer: `moat balancer --config FILE` in its own Node process, `proxyProtocol: off`;
 * - nginx: Debian's nginx with the stream module, `worker_processes 1`, `proxy_pass`;
 * - HAProxy: Debian's haproxy in `mode tcp`, `nbthread 1`, `-db` (foreground).
 * Every proxy gets one upstream (the sink), no PROXY protocol, no health checks, and the
 * same connect time-out (4 s) and idle time-out (600 s).
 */
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir, requireExecutable, runCommand, spawnManaged, tailFile, waitForPort, type Managed } from './proc.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';
import { repoRoot, scannerEntry, startScanner } from './scanner-instance.ts';

export interface ProxyTarget {
  /** Port the load generators connect to. */
  port: number;
  /** Root pid whose tree's CPU is the proxy's; undefined for direct. */
  pid: number | undefined;
  sink: SmtpSink;
  stop(): Promise<void>;
}

export type ProxyKind = 'direct' | 'moat' | 'nginx' | 'haproxy';
/** What the proxies forward to: a bare smtp-sink, or a Moat scanner (durable queue, relay to a sink). */
export type UpstreamKind = 'sink' | 'scanner';

const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const INSTALL = 'DEBIAN_FRONTEND=noninteractive apt-get install -y nginx libnginx-mod-stream haproxy';

export function checkProxyPrerequisites(kinds: ProxyKind[]): void {
  if (kinds.includes('nginx')) {
    requireExecutable('nginx', INSTALL);
    if (!existsSync(NGINX_STREAM_MODULE)) throw new Error(`${NGINX_STREAM_MODULE} missing: install it with \`${INSTALL}\``);
  }
  if (kinds.includes('haproxy')) requireExecutable('haproxy', INSTALL);
  if (kinds.includes('moat') && !existsSync(scannerEntry)) throw new Error(`${scannerEntry} does not exist`);
}

/** Version strings for the report. */
export async function proxyVersions(): Promise<{ nginx: string; haproxy: string }> {
  const v = async (bin: string, args: string[], re: RegExp): Promise<string> => {
    try {
      const r = await runCommand(requireExecutable(bin, INSTALL), args, 10_000);
      return re.exec(r.stdout + r.stderr)?.[1] ?? '?';
    } catch {
      return '?';
    }
  };
  return { nginx: await v('nginx', ['-v'], /nginx\/(\S+)/), haproxy: await v('haproxy', ['-v'], /version (\S+)/) };
}

/** The upstream as the proxies see it: its port, and the count of messages that reached the end. */
async function startUpstream(kind: UpstreamKind, keep: boolean): Promise<SmtpSink> {
  if (kind === 'sink') return startSmtpSink(keep);
  const scanner = await startScanner({ keep, relayConnections: 20, nodeArgs: [], logLevel: 'warn' });
  return { port: scanner.port, received: scanner.delivered, stop: () => scanner.stop() };
}

async function withSink(keep: boolean, upstream: UpstreamKind, start: (sink: SmtpSink) => Promise<Omit<ProxyTarget, 'sink'>>): Promise<ProxyTarget> {
  const sink = await startUpstream(upstream, keep);
  try {
    const t = await start(sink);
    return {
      ...t,
      sink,
      async stop() {
        try {
          await t.stop();
        } finally {
          await sink.stop();
        }
      },
    };
  } catch (err) {
    await sink.stop();
    throw err;
  }
}

/** Starts a daemon with output to a log file, waits for its port; stops it with `signal`. */
async function daemon(label: string, file: string, args: string[], cwd: string, logFile: string, port: number): Promise<Managed> {
  const fd = openSync(logFile, 'a');
  const proc = spawnManaged(label, file, args, { cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const died = (): string | undefined => {
    const s = proc.exitStatus();
    return s === undefined ? undefined : `exited (${s}); its output:\n${tailFile(logFile, 3000)}`;
  };
  try {
    await waitForPort(port, 30_000, label, died);
  } catch (err) {
    await proc.stop('SIGKILL', 2000);
    throw err;
  }
  return proc;
}

/** The balancer's `relay` setting (docs/balancer.md, "Relay paths"). */
export type MoatRelay = 'auto' | 'handles' | 'stream';

/** `moatRelay`: the balancer's `relay` setting. */
export function startProxy(kind: ProxyKind, keep: boolean, moatRelay: MoatRelay = 'auto', upstream: UpstreamKind = 'sink'): Promise<ProxyTarget> {
  return withSink(keep, upstream, async (sink) => {
    if (kind === 'direct') return { port: sink.port, pid: undefined, async stop() {} };
    const port = await freePort();
    const tmp = makeTempDir(kind, keep);
    const logFile = join(tmp.path, `${kind}.log`);
    let proc: Managed;
    let stopSignal: NodeJS.Signals = 'SIGTERM';
    try {
      if (kind === 'moat') {
        const configFile = join(tmp.path, 'balancer.yaml');
        writeFileSync(
          configFile,
          [
            `listen: { host: 127.0.0.1, port: ${port} }`,
            'proxyProtocol: "off"',
            `relay: ${moatRelay}`,
            'connectTimeoutMs: 4000',
            'idleTimeoutMs: 600000',
            `upstreams: [{ name: sink, host: 127.0.0.1, port: ${sink.port} }]`,
            '',
          ].join('\n'),
        );
        proc = await daemon('moat balancer', process.execPath, [scannerEntry, 'balancer', '--config', configFile], repoRoot, logFile, port);
      } else if (kind === 'nginx') {
        const conf = join(tmp.path, 'nginx.conf');
        writeFileSync(
          conf,
          [
            `load_module ${NGINX_STREAM_MODULE};`,
            'worker_processes 1;',
            `pid ${join(tmp.path, 'nginx.pid')};`,
            `error_log ${logFile} warn;`,
            'events { worker_connections 8192; }',
            'stream {',
            `  upstream sink { server 127.0.0.1:${sink.port}; }`,
            '  server {',
            `    listen 127.0.0.1:${port} backlog=1024;`,
            '    proxy_pass sink;',
            '    proxy_connect_timeout 4s;',
            '    proxy_timeout 600s;',
            '  }',
            '}',
            '',
          ].join('\n'),
        );
        const bin = requireExecutable('nginx', INSTALL);
        proc = await daemon('nginx', bin, ['-e', logFile, '-p', tmp.path, '-c', conf, '-g', 'daemon off;'], tmp.path, logFile, port);
        stopSignal = 'SIGQUIT'; // graceful: the master waits for its worker
      } else {
        const cfg = join(tmp.path, 'haproxy.cfg');
        writeFileSync(
          cfg,
          [
            'global',
            '  nbthread 1',
            '  maxconn 8000', // HAProxy raises its FD limit to about 2 × maxconn; the hard limit here is 20,000
            'defaults',
            '  mode tcp',
            '  timeout connect 4s',
            '  timeout client 600s',
            '  timeout server 600s',
            'frontend fe',
            `  bind 127.0.0.1:${port}`,
            '  default_backend be',
            'backend be',
            `  server sink 127.0.0.1:${sink.port}`,
            '',
          ].join('\n'),
        );
        const bin = requireExecutable('haproxy', INSTALL);
        proc = await daemon('haproxy', bin, ['-f', cfg, '-db'], tmp.path, logFile, port);
      }
    } catch (err) {
      tmp.remove();
      throw err;
    }
    return {
      port,
      pid: proc.pid,
      async stop() {
        await proc.stop(stopSignal, 10_000);
        tmp.remove();
      },
    };
  });
}
