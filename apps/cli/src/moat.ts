#!/usr/bin/env node
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, loadConfigFile } from '@moat/config';
import { parseArgs } from './args.ts';

// Each role imports only its own modules (dynamic import per subcommand): a stand-alone
// balancer must not load the master (Fastify, SQLite) or the scanner pipeline.

const USAGE = `usage:
  moat master --config FILE [--print-config]    run the master node
  moat master reset-password --config FILE [--user NAME]   set a new generated password (default user: admin)
  moat scanner --config FILE [--print-config]   run a scanner node
  moat balancer --config FILE                   run a stand-alone balancer (virtual SMTP address + election)
  moat sink [--host H] [--port P] [--dir D]     run a downstream sink that writes mail to files
  moat local [--var DIR]                         run the local cluster (what 'pnpm start' runs)`;

type Closable = { close(): Promise<void> };

async function main(argv: readonly string[]): Promise<number> {
  const { command, options, rest } = parseArgs(argv);
  switch (command) {
    case 'master': {
      if (typeof options.config !== 'string') return usage('master needs --config FILE');
      const { MasterConfigSchema, startMaster, resetPassword } = await import('@moat/master');
      const config = loadConfigFile(MasterConfigSchema, options.config);
      if (rest[0] === 'reset-password') {
        const user = typeof options.user === 'string' ? options.user : config.admin.username;
        const password = await resetPassword(config, user);
        process.stdout.write(`new password for ${user}: ${password}\n`);
        return 0;
      }
      if (options['print-config']) {
        process.stdout.write(stringify({ ...config, cluster: { ...config.cluster, joinSecret: config.cluster.joinSecret ? '[redacted]' : undefined }, admin: { ...config.admin, password: config.admin.password ? '[redacted]' : undefined } }));
        return 0;
      }
      const master = await startMaster(config);
      if (master.firstAdmin.generatedPassword) {
        process.stderr.write(`\nFirst start: admin user '${master.firstAdmin.username}' created; password: ${master.firstAdmin.generatedPassword}\n(also in ${master.firstAdmin.passwordFile}; change it after signing in)\n\n`);
      }
      return runUntilSignal(master);
    }
    case 'scanner': {
      if (typeof options.config !== 'string') return usage('scanner needs --config FILE');
      const { ScannerConfigSchema, startScanner } = await import('@moat/scanner');
      const config = loadConfigFile(ScannerConfigSchema, options.config);
      if (options['print-config']) {
        process.stdout.write(stringify(redactScannerConfig(config)));
        return 0;
      }
      return runUntilSignal(await startScanner(config));
    }
    case 'balancer': {
      if (typeof options.config !== 'string') return usage('balancer needs --config FILE');
      const [{ loadBalancerConfigFile, startBalancer }, { createLogger }] = await Promise.all([import('@moat/balancer'), import('@moat/scanner/logger')]);
      const config = loadBalancerConfigFile(options.config);
      const balancer = await startBalancer(config, { log: createLogger('info', { role: 'balancer' }) });
      return runUntilSignal(balancer);
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
    case 'local': {
      const { startLocalCluster, LOCAL_DEFAULTS } = await import('./local-cluster.ts');
      const cluster = await startLocalCluster(typeof options.var === 'string' ? { varDir: options.var } : {});
      const lines = [
        '',
        'Moat local cluster is up:',
        `  console and API     ${cluster.master.url}/   (API under /api/v1/, docs at /api/v1/docs)`,
        `  admin login         user ${LOCAL_DEFAULTS.adminUser}, password ${cluster.adminPassword}`,
        `  virtual SMTP        ${LOCAL_DEFAULTS.virtual.host}:${LOCAL_DEFAULTS.virtual.port} (held by the elected scanner, spread over both)`,
        ...cluster.scanners.map((s, i) => `  scanner ${i + 1} SMTP      127.0.0.1:${s.smtpPort}`),
        `  downstream sink     127.0.0.1:${cluster.sink.port} (delivered mail in var/delivered/)`,
        `  accepted domain     ${LOCAL_DEFAULTS.domain}   rules: edit them on the master (PUT /api/v1/rules)`,
        `  try: swaks --server 127.0.0.1:${LOCAL_DEFAULTS.virtual.port} --to user@${LOCAL_DEFAULTS.domain} --header 'Subject: TAG-ME'`,
        '',
      ];
      process.stderr.write(lines.join('\n'));
      return runUntilSignal(cluster);
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

/** Serve until SIGTERM/SIGINT, then close cleanly (mail in flight finishes). */
function runUntilSignal(service: Closable): Promise<number> {
  return new Promise((resolveExit) => {
    const stop = (signal: string) => {
      process.stderr.write(`moat: ${signal}, shutting down\n`);
      service.close().then(() => resolveExit(0), (err: unknown) => {
        process.stderr.write(`moat: error while shutting down: ${String(err)}\n`);
        resolveExit(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

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
