#!/usr/bin/env node
import { join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '@moat/config';
import { parseArgs } from './args.ts';
import { loadBalancerRoleConfig, loadRoleConfig } from './role-config.ts';
import { checkHealth, probeHost, publishHealth, type HealthDescriptor } from './health.ts';
import { publishPid } from './pid-file.ts';

// Each role imports only its own modules (dynamic import per subcommand): a stand-alone
// balancer must not load the master (Fastify, SQLite) or the scanner pipeline.

const USAGE = `usage:
  moat master --config FILE [--print-config]    run the master node
  moat master reset-password --config FILE [--user NAME]   set a new generated password (default user: admin)
  moat scanner --config FILE [--print-config]   run a scanner node
  moat balancer --config FILE                   run a stand-alone balancer (virtual SMTP address + election)
  moat sink [--host H] [--port P] [--dir D]     run a downstream sink that writes mail to files
  moat witness [--host H] [--port P] [--dir D] [--lease-ms N]   run the masters' witness vote (key: MOAT_WITNESS_KEY)
  moat local [--var DIR] [--standby]             run the local cluster (what 'pnpm start' runs; --standby: a second master on 8081)
  moat healthcheck [--file FILE]                 probe the role running here (exit 0 healthy, 1 not)
  moat backup master|scanner --config FILE --out DIR   online backup of a node's database (+ a scanner's quarantine)

  master, scanner, balancer and backup take any number of --set KEY=VALUE: a config key
  overridden for this run (e.g. --set smtp.listen.port=2525 --set dataDir=/srv/moat).
  MOAT_HEALTH_FILE=FILE: a running role writes there what 'moat healthcheck' probes.
  MOAT_PID_FILE=FILE: a running role writes its process id there (removed when it stops).`;

type Closable = { close(): Promise<void> };

async function main(argv: readonly string[]): Promise<number> {
  const { command, options, rest, sets } = parseArgs(argv);
  switch (command) {
    case 'master': {
      if (typeof options.config !== 'string') return usage('master needs --config FILE');
      const { MasterConfigSchema, startMaster, resetPassword } = await import('@moat/master');
      const config = loadRoleConfig(MasterConfigSchema, options.config, sets);
      if (rest[0] === 'reset-password') {
        const user = typeof options.user === 'string' ? options.user : config.admin.username;
        const password = await resetPassword(config, user);
        process.stdout.write(`new password for ${user}: ${password}\n`);
        return 0;
      }
      if (options['print-config']) {
        const f = config.failover;
        const failover = f && { ...f, ...(f.election ? { election: { ...f.election, key: '[redacted]' } } : {}), ...(f.witness ? { witness: { ...f.witness, key: '[redacted]' } } : {}) };
        process.stdout.write(stringify({ ...config, cluster: { ...config.cluster, joinSecret: config.cluster.joinSecret ? '[redacted]' : undefined }, admin: { ...config.admin, password: config.admin.password ? '[redacted]' : undefined }, ...(failover ? { failover } : {}) }));
        return 0;
      }
      const master = await startMaster(config);
      if (master.firstAdmin.generatedPassword) {
        process.stderr.write(`\nFirst start: admin user '${master.firstAdmin.username}' created; password: ${master.firstAdmin.generatedPassword}\n(also in ${master.firstAdmin.passwordFile}; change it after signing in)\n\n`);
      }
      const unpublish = await publishRunning({ role: 'master', pid: process.pid, probe: { kind: 'http', url: `${config.http.tls ? 'https' : 'http'}://${urlHost(probeHost(config.http.host))}:${master.port}` } });
      return runUntilSignal(master, unpublish);
    }
    case 'scanner': {
      if (typeof options.config !== 'string') return usage('scanner needs --config FILE');
      const { ScannerConfigSchema, startScanner } = await import('@moat/scanner');
      const config = loadRoleConfig(ScannerConfigSchema, options.config, sets);
      if (options['print-config']) {
        process.stdout.write(stringify(redactScannerConfig(config)));
        return 0;
      }
      const scanner = await startScanner(config);
      const host = probeHost(config.smtp.listen.host);
      // A scanner that trusts PROXY lines from the probe's own address waits for one before its greeting.
      const sendProxy = config.smtp.trustedProxies.some((p: string) => p === host || p === '*' || p === `::ffff:${host}`);
      const unpublish = await publishRunning({ role: 'scanner', pid: process.pid, probe: { kind: 'smtp', host, port: scanner.smtpPort, sendProxy } });
      // Started by 'moat local' (an IPC channel): tell it the scanner is up.
      process.send?.({ moat: 'ready', smtpPort: scanner.smtpPort });
      return runUntilSignal(scanner, unpublish);
    }
    case 'balancer': {
      if (typeof options.config !== 'string') return usage('balancer needs --config FILE');
      const [{ startBalancer }, { createLogger }] = await Promise.all([import('@moat/balancer'), import('@moat/scanner/logger')]);
      const config = loadBalancerRoleConfig(options.config, sets);
      const balancer = await startBalancer(config, { log: createLogger('info', { role: 'balancer' }) });
      const unpublish = await publishRunning({ role: 'balancer', pid: process.pid, probe: { kind: 'process' } });
      return runUntilSignal(balancer, unpublish);
    }
    case 'sink': {
      const [{ startSink }, { LOCAL_DEFAULTS }] = await Promise.all([import('@moat/sink'), import('./local-cluster.ts')]);
      const sink = await startSink({
        host: typeof options.host === 'string' ? options.host : LOCAL_DEFAULTS.sink.host,
        port: typeof options.port === 'string' ? Number(options.port) : LOCAL_DEFAULTS.sink.port,
        dir: resolve(typeof options.dir === 'string' ? options.dir : 'var/delivered'),
      });
      process.stdout.write(`sink listening on port ${sink.port}\n`);
      return runUntilSignal(sink);
    }
    case 'witness': {
      // The masters' third vote (docs/masters.md): small, no database; its one state file is written durably.
      const key = process.env.MOAT_WITNESS_KEY;
      if (!key || key.length < 16) return usage('witness needs MOAT_WITNESS_KEY (at least 16 characters), the key in the masters\' failover.witness.key');
      const leaseMs = typeof options['lease-ms'] === 'string' ? Number(options['lease-ms']) : 3000;
      if (!Number.isInteger(leaseMs) || leaseMs < 100) return usage('--lease-ms must be an integer of at least 100');
      const port = typeof options.port === 'string' ? Number(options.port) : 8090;
      if (!Number.isInteger(port) || port < 0 || port > 65535) return usage('--port must be a TCP port');
      const [{ startWitness }, { createLogger }, { ensureDirs }] = await Promise.all([import('@moat/master/witness'), import('@moat/scanner/logger'), import('@moat/storage')]);
      const dir = resolve(typeof options.dir === 'string' ? options.dir : 'var/witness');
      await ensureDirs(dir);
      const witness = await startWitness({ host: typeof options.host === 'string' ? options.host : '127.0.0.1', port, key, leaseMs, stateFile: resolve(dir, 'witness.json'), log: createLogger('info', { role: 'witness' }) });
      return runUntilSignal(witness);
    }
    case 'local': {
      const { startLocalCluster, LOCAL_DEFAULTS } = await import('./local-cluster.ts');
      const varDir = resolve(typeof options.var === 'string' ? options.var : LOCAL_DEFAULTS.varDir);
      const cluster = await startLocalCluster({ varDir, ...(options.standby ? { standby: true } : {}) });
      // Paths as the user would type them here: relative below the current folder, absolute elsewhere.
      const shown = (path: string) => {
        const below = relative(process.cwd(), path);
        return below.startsWith('..') ? path : below;
      };
      const lines = [
        '',
        'Moat local cluster is up:',
        `  console and API     ${cluster.master.url}/   (API under /api/v1/, docs at /api/v1/docs)`,
        ...(cluster.masters.length > 1 ? [`  standby master      ${cluster.masters[1]!.url}/   (elected in place of the active one when it fails; docs/masters.md)`] : []),
        `  admin login         user ${LOCAL_DEFAULTS.adminUser}, password ${cluster.adminPassword}`,
        `  virtual SMTP        ${LOCAL_DEFAULTS.virtual.host}:${LOCAL_DEFAULTS.virtual.port} (held by the elected scanner, spread over both)`,
        ...cluster.scanners.map((s, i) => `  scanner ${i + 1} SMTP      127.0.0.1:${s.smtpPort}   pid ${s.pid()} (also in ${shown(s.dataDir)}/scanner.pid)`),
        `  downstream sink     127.0.0.1:${cluster.sink.port} (delivered mail in ${shown(join(varDir, 'delivered'))}/)`,
        `  accepted domain     ${LOCAL_DEFAULTS.domain}   rules: edit them on the master (PUT /api/v1/rules)`,
        `  try: swaks --server 127.0.0.1:${LOCAL_DEFAULTS.virtual.port} --to user@${LOCAL_DEFAULTS.domain} --header 'Subject: TAG-ME'`,
        `  failover: kill -9 $(cat ${shown(cluster.scanners[0]!.dataDir)}/scanner.pid); the other scanner takes the virtual address within about 2 s,`,
        `            and the killed one is started again after 5 s (docs/local-cluster.md)`,
        '',
      ];
      process.stderr.write(lines.join('\n'));
      return runUntilSignal(cluster);
    }
    case 'healthcheck': {
      const file = typeof options.file === 'string' ? options.file : process.env.MOAT_HEALTH_FILE;
      if (!file) return usage('healthcheck needs --file FILE or MOAT_HEALTH_FILE');
      const problem = await checkHealth(file);
      process.stdout.write(problem === null ? 'healthy\n' : `unhealthy: ${problem}\n`);
      return problem === null ? 0 : 1;
    }
    case 'backup': {
      const role = rest[0];
      if (role !== 'master' && role !== 'scanner') return usage('backup needs a role: master or scanner');
      if (typeof options.config !== 'string' || typeof options.out !== 'string') return usage('backup needs --config FILE and --out DIR');
      const schema = role === 'master' ? (await import('@moat/master')).MasterConfigSchema : (await import('@moat/scanner')).ScannerConfigSchema;
      const { dataDir } = loadRoleConfig(schema, options.config, sets) as { dataDir: string };
      const { backupMaster, backupScanner } = await import('./backup.ts');
      const report = role === 'master' ? await backupMaster(dataDir, resolve(options.out)) : await backupScanner(dataDir, resolve(options.out));
      process.stdout.write(`${JSON.stringify({ event: 'BACKUP_DONE', role, ...report })}\n`);
      return 0;
    }
    default:
      return usage(command ? `unknown command '${command}'` : 'missing command');
  }
}

/** Secrets never reach the terminal: the join secret, the election key, the status token. */
function redactScannerConfig<T extends { master?: { joinSecret?: string | undefined } | undefined; balancer?: { election?: { key: string } | undefined; status?: { token?: string | undefined } | undefined } | undefined }>(config: T): T {
  const hide = (v: string | undefined) => (v === undefined ? undefined : '[redacted]');
  const b = config.balancer;
  return {
    ...config,
    ...(config.master ? { master: { ...config.master, joinSecret: hide(config.master.joinSecret) } } : {}),
    ...(b ? {
      balancer: {
        ...b,
        ...(b.election ? { election: { ...b.election, key: '[redacted]' } } : {}),
        ...(b.status ? { status: { ...b.status, token: hide(b.status.token) } } : {}),
      },
    } : {}),
  };
}

function usage(problem: string): number {
  process.stderr.write(`moat: ${problem}\n${USAGE}\n`);
  return 2;
}

/** An IPv6 literal goes in brackets inside a URL. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A role is up: publish what MOAT_HEALTH_FILE and MOAT_PID_FILE ask for; resolves one remover for its shutdown. */
async function publishRunning(descriptor: HealthDescriptor): Promise<() => Promise<void>> {
  const removers = [await publishHealth(descriptor), await publishPid(process.env.MOAT_PID_FILE, descriptor.pid)];
  return async () => {
    for (const remove of removers) await remove();
  };
}

/** Serve until SIGTERM/SIGINT, then close cleanly (mail in flight finishes). */
function runUntilSignal(service: Closable, beforeClose: () => Promise<void> = async () => undefined): Promise<number> {
  return new Promise((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`moat: ${signal}, shutting down\n`);
      beforeClose().then(() => service.close()).then(() => resolveExit(0), (err: unknown) => {
        process.stderr.write(`moat: error while shutting down: ${String(err)}\n`);
        resolveExit(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // A role started by 'moat local' stops when its parent goes away (even a kill -9 of it).
    if (process.connected) process.once('disconnect', () => stop('the local cluster process ended'));
  });
}

// The process lives until main settles (then process.exit): a scanner still waiting for its first
// rules holds no socket open between link retries (their timers are unref'd), and without this
// it would end with status 0 in silence, e.g. when it has neither a credential nor a join secret.
setInterval(() => undefined, 1 << 30);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`moat: configuration error in ${err.source}:\n${err.errors.map((e) => `  ${e.key}: ${e.message}`).join('\n')}\n`);
      process.exit(2);
    }
    process.stderr.write(`moat: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
