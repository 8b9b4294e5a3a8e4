#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, formatFieldError } from '@moat/config';
import { commandHelp, parseCommandLine, rootHelp, UsageError, type Invocation } from './args.ts';
import { COMMANDS, ROOT_NOTES } from './commands.ts';
import { loadBalancerRoleConfig, loadRoleConfig } from './role-config.ts';
import { checkHealth, probeHost, publishHealth, type HealthDescriptor } from './health.ts';
import { publishPid } from './pid-file.ts';

// Each role imports only its own modules (dynamic import per subcommand): a stand-alone
// balancer must not load the master (Fastify, SQLite) or the scanner pipeline.

type Closable = { close(): Promise<void> };

async function main(argv: readonly string[]): Promise<number> {
  const line = parseCommandLine(argv, COMMANDS, ROOT_NOTES);
  if (line.kind === 'help') {
    process.stdout.write(`${line.text}\n`);
    return 0;
  }
  if (line.kind === 'version') {
    process.stdout.write(`moat ${version()}\n`);
    return 0;
  }
  return run(line.command);
}

/** One command's body, with its options already parsed and checked against its entry in commands.ts. */
async function run(command: Invocation<typeof COMMANDS>): Promise<number> {
  const usage = (problem: string) => usageError(problem, command.name);
  switch (command.name) {
    case 'master reset-password': {
      const options = command.values;
      const { MasterConfigSchema, resetPassword } = await import('@moat/master');
      const config = loadRoleConfig(MasterConfigSchema, options.config, options.set);
      const user = options.user ?? config.admin.username;
      const password = await resetPassword(config, user);
      process.stdout.write(`new password for ${user}: ${password}\n`);
      return 0;
    }
    case 'master join-token': {
      const options = command.values;
      const { parseTtl } = await import('./join-token.ts');
      const ttlSeconds = parseTtl(options.ttl);
      if (ttlSeconds === undefined) return usageError('--ttl must be seconds or a number with s, m, h or d, between a minute and a week', command.name);
      const { MasterConfigSchema, mintJoinTokenOffline } = await import('@moat/master');
      const config = loadRoleConfig(MasterConfigSchema, options.config, options.set);
      const minted = await mintJoinTokenOffline(config, options.node, { ttlSeconds, replace: options.replace });
      // The token is printed on stdout once, for the admin to hand to the node; the master keeps only its hash.
      process.stdout.write(`${minted.token}\n`);
      process.stderr.write(`join token for ${minted.nodeName}${minted.replace ? ' (replaces its key)' : ''}, valid until ${new Date(minted.expiresAt).toISOString()}, usable once: set master.joinToken (or MOAT_JOIN_TOKEN) on that scanner\n`);
      return 0;
    }
    case 'master migrate': {
      const options = command.values;
      const { MasterConfigSchema, migrateMasterToPostgres, maskPassword, MigrationError } = await import('@moat/master');
      const config = loadRoleConfig(MasterConfigSchema, options.config, options.set);
      const shown = maskPassword(options.to);
      process.stdout.write(`copying ${join(config.dataDir, 'master.sqlite')} into ${shown}\n`);
      try {
        const summary = await migrateMasterToPostgres(config, options.to, (c) => process.stdout.write(`  ${c.table}: ${c.rows} rows\n`));
        const rows = summary.tables.reduce((n, c) => n + c.rows, 0);
        process.stdout.write(`copied ${rows} rows in ${summary.tables.length} tables (schema version ${summary.version}); row counts and checksums match.\nNext: set database.url to ${shown} in ${options.config} and start the master.\n`);
        return 0;
      } catch (err) {
        if (!(err instanceof MigrationError)) throw err;
        process.stderr.write(`moat master migrate: ${err.message}\n`);
        return 1;
      }
    }
    case 'master': {
      const options = command.values;
      const { MasterConfigSchema, startMaster } = await import('@moat/master');
      const config = loadRoleConfig(MasterConfigSchema, options.config, options.set);
      if (options['print-config']) {
        process.stdout.write(stringify({ ...config, cluster: { ...config.cluster, joinSecret: config.cluster.joinSecret ? '[redacted]' : undefined }, admin: { ...config.admin, password: config.admin.password ? '[redacted]' : undefined } }));
        return 0;
      }
      const master = await startMaster(config);
      const notice = (await import('./first-admin.ts')).firstAdminNotice(master.firstAdmin, process.stderr.isTTY === true);
      if (notice) process.stderr.write(notice);
      const unpublish = await publishRunning({ role: 'master', pid: process.pid, probe: { kind: 'http', url: `${config.http.tls ? 'https' : 'http'}://${urlHost(probeHost(config.http.host))}:${master.port}` } });
      // Started by 'moat local --ha' (an IPC channel): tell it the master is up.
      process.send?.({ moat: 'ready' });
      return runUntilSignal(master, unpublish);
    }
    case 'scanner': {
      const options = command.values;
      const { ScannerConfigSchema, startScanner } = await import('@moat/scanner');
      const config = loadRoleConfig(ScannerConfigSchema, options.config, options.set);
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
      const options = command.values;
      const [{ startBalancer }, { createLogger }] = await Promise.all([import('@moat/balancer'), import('@moat/scanner/logger')]);
      const config = loadBalancerRoleConfig(options.config, options.set);
      const balancer = await startBalancer(config, { log: createLogger('info', { role: 'balancer' }) });
      const unpublish = await publishRunning({ role: 'balancer', pid: process.pid, probe: { kind: 'process' } });
      return runUntilSignal(balancer, unpublish);
    }
    case 'sink': {
      const options = command.values;
      if (options.port !== undefined && !isPort(Number(options.port))) return usage('--port must be a TCP port');
      const [{ startSink }, { LOCAL_DEFAULTS }] = await Promise.all([import('@moat/sink'), import('./local-cluster.ts')]);
      const sink = await startSink({
        host: options.host ?? LOCAL_DEFAULTS.sink.host,
        port: options.port !== undefined ? Number(options.port) : LOCAL_DEFAULTS.sink.port,
        dir: resolve(options.dir ?? 'var/delivered'),
      });
      process.stdout.write(`sink listening on port ${sink.port}\n`);
      return runUntilSignal(sink);
    }
    case 'local': {
      const options = command.values;
      const { startLocalCluster, LOCAL_DEFAULTS, engineBannerLines } = await import('./local-cluster.ts');
      const varDir = resolve(options.var ?? LOCAL_DEFAULTS.varDir);
      // Paths as the user would type them here: relative below the current folder, absolute elsewhere.
      const shown = (path: string) => {
        const below = relative(process.cwd(), path);
        return below.startsWith('..') ? path : below;
      };
      const common = (cluster: { scanners: readonly { smtpPort: number; pid(): number | undefined; dataDir: string }[]; sink: { port: number }; engines: Parameters<typeof engineBannerLines>[0] }, delivered: string) => [
        `  virtual SMTP        ${LOCAL_DEFAULTS.virtual.host}:${LOCAL_DEFAULTS.virtual.port} (held by the elected scanner, spread over both)`,
        ...cluster.scanners.map((s, i) => `  scanner ${i + 1} SMTP      127.0.0.1:${s.smtpPort}   pid ${s.pid()} (also in ${shown(s.dataDir)}/scanner.pid)`),
        `  downstream sink     127.0.0.1:${cluster.sink.port} (delivered mail in ${shown(delivered)}/)`,
        ...engineBannerLines(cluster.engines),
        `  accepted domain     ${LOCAL_DEFAULTS.domain}   rules: edit them on the master (PUT /api/v1/rules)`,
        `  try: swaks --server 127.0.0.1:${LOCAL_DEFAULTS.virtual.port} --to user@${LOCAL_DEFAULTS.domain} --header 'Subject: TAG-ME'`,
      ];
      if (options.ha) {
        const { startLocalHaCluster } = await import('./local-ha.ts');
        const cluster = await startLocalHaCluster({ varDir });
        const root = join(varDir, LOCAL_DEFAULTS.ha.dir);
        const state = await cluster.database.state();
        const primary = state.find((n) => n.reported === 'primary')?.name ?? 'node1';
        const lines = [
          '',
          'Moat local cluster with HA is up (docs/database.md, "High availability"):',
          ...cluster.masters.map((m, i) => `  master ${i + 1}            ${m.url}/   pid ${m.process.pid()} (also in ${shown(m.process.dataDir)}/master.pid): console, API, scanners' link; both active`),
          `  admin login         user ${LOCAL_DEFAULTS.adminUser}, password in ${shown(join(root, 'admin-password'))} (the same on both masters)`,
          ...cluster.database.nodes().map((n) => `  PostgreSQL ${n.name}    127.0.0.1:${n.port}   ${state.find((s) => s.name === n.name)?.reported ?? '?'} (pg_autoctl pid in ${shown(join(cluster.database.dir, `${n.name}.pid`))})`),
          `  pg_auto_failover    monitor ${new URL(cluster.database.monitorUrl).port}; commits wait for the synchronous standby; failure detection scaled down (a failover in about 12 s)`,
          `                      state: pg_autoctl show state --monitor 'postgres://autoctl_node@127.0.0.1:${new URL(cluster.database.monitorUrl).port}/pg_auto_failover?sslmode=disable'`,
          ...common(cluster, join(root, 'delivered')),
          `  a master fails:     kill -9 $(cat ${shown(cluster.masters[0]!.process.dataDir)}/master.pid); the other keeps the console and the scanners (they move to it), and the killed one is started again after 5 s`,
          `  the primary fails:  kill -9 -- -$(cat ${shown(join(cluster.database.dir, `${primary}.pid`))}); the monitor promotes the standby, the masters find it (docs/database.md)`,
          '',
        ];
        process.stderr.write(lines.join('\n'));
        return runUntilSignal(cluster);
      }
      const cluster = await startLocalCluster({ varDir });
      const lines = [
        '',
        'Moat local cluster is up:',
        `  console and API     ${cluster.master.url}/   (API under /api/v1/, docs at /api/v1/docs)`,
        `  admin login         user ${LOCAL_DEFAULTS.adminUser}, password ${cluster.adminPassword}`,
        ...common(cluster, join(varDir, 'delivered')),
        `  failover: kill -9 $(cat ${shown(cluster.scanners[0]!.dataDir)}/scanner.pid); the other scanner takes the virtual address within about 2 s,`,
        `            and the killed one is started again after 5 s (docs/local-cluster.md)`,
        '',
      ];
      process.stderr.write(lines.join('\n'));
      return runUntilSignal(cluster);
    }
    case 'learn': {
      const { spam, ham, master, wait } = command.values;
      if (spam.length + ham.length === 0) return usage('learn needs --spam PATH and/or --ham PATH');
      const waitSeconds = wait === undefined ? 3600 : Number(wait);
      if (!Number.isFinite(waitSeconds) || waitSeconds < 0) return usage('--wait must be a number of seconds');
      const { runLearn } = await import('./learn-command.ts');
      return runLearn({ spam, ham, ...(master ? { master } : {}), ...(command.values.var ? { var: command.values.var } : {}), waitSeconds, out: process.stderr });
    }
    case 'status': {
      const { json, ...target } = command.values;
      const [{ operatorCommand }, { runStatus }] = await Promise.all([import('./operator-command.ts'), import('./status-command.ts')]);
      return operatorCommand(target, (client) => runStatus(client, json, process.stdout));
    }
    case 'node drain':
    case 'node undrain': {
      const drain = command.name === 'node drain';
      const [{ operatorCommand }, { runDrain }] = await Promise.all([import('./operator-command.ts'), import('./node-command.ts')]);
      return operatorCommand(command.values, (client) => runDrain(client, command.operands[0]!, drain, process.stdout));
    }
    case 'node remove': {
      const [{ operatorCommand }, { runRemove }] = await Promise.all([import('./operator-command.ts'), import('./node-command.ts')]);
      return operatorCommand(command.values, (client) => runRemove(client, command.operands[0]!, process.stdout));
    }
    case 'quarantine list': {
      const { master, var: varDir, limit, ...filters } = command.values;
      const max = limit === undefined ? 50 : Number(limit);
      if (!Number.isInteger(max) || max < 1 || max > 500) return usage('--limit must be a whole number from 1 to 500');
      if (filters.status !== undefined && !['held', 'released', 'deleted', 'expired', 'all'].includes(filters.status)) return usage('--status must be held, released, deleted, expired or all');
      const [{ operatorCommand }, { runQuarantineList }] = await Promise.all([import('./operator-command.ts'), import('./quarantine-command.ts')]);
      return operatorCommand({ master, var: varDir }, (client) => runQuarantineList(client, { ...filters, limit: max }, process.stdout));
    }
    case 'quarantine release': {
      const id = command.operands[0]!;
      if (!/^[0-9A-Za-z]{20}$/.test(id)) return usage(`'${id}' is not a message id (20 letters and digits, as 'moat quarantine list' shows)`);
      const { node, ...target } = command.values;
      const [{ operatorCommand }, { runQuarantineRelease }] = await Promise.all([import('./operator-command.ts'), import('./quarantine-command.ts')]);
      return operatorCommand(target, (client) => runQuarantineRelease(client, id, node, process.stdout));
    }
    case 'healthcheck': {
      const file = command.values.file ?? process.env.MOAT_HEALTH_FILE;
      if (!file) return usage('healthcheck needs --file FILE or MOAT_HEALTH_FILE');
      const problem = await checkHealth(file);
      process.stdout.write(problem === null ? 'healthy\n' : `unhealthy: ${problem}\n`);
      return problem === null ? 0 : 1;
    }
    case 'upgrade': {
      const { upgradeCommand } = await import('./release/upgrade-command.ts');
      const plan = upgradeCommand(command.operands[0]!, command.values);
      if (typeof plan === 'string') return usage(plan);
      const { runUpgrade } = await import('./release/upgrade.ts');
      return runUpgrade({ ...plan, out: (line) => process.stdout.write(`${line}\n`) });
    }
    case 'backup': {
      const options = command.values;
      const role = command.operands[0] === 'master' ? 'master' : 'scanner';
      const schema = role === 'master' ? (await import('@moat/master')).MasterConfigSchema : (await import('@moat/scanner')).ScannerConfigSchema;
      const { dataDir, database } = loadRoleConfig(schema, options.config, options.set) as { dataDir: string; database?: { url: string } };
      if (database) {
        // A master on PostgreSQL has no file to copy: the database's own backups cover it.
        process.stderr.write('moat backup master: this master keeps its state in PostgreSQL (database.url): back it up with pg_dump or base backups (docs/database.md, "Backup")\n');
        return 2;
      }
      const { backupMaster, backupScanner } = await import('./backup.ts');
      const report = role === 'master' ? await backupMaster(dataDir, resolve(options.out)) : await backupScanner(dataDir, resolve(options.out));
      process.stdout.write(`${JSON.stringify({ event: 'BACKUP_DONE', role, ...report })}\n`);
      return 0;
    }
    default:
      // A command in the table without a case here is a type error (`command` is `never`).
      return unhandled(command);
  }
}

function unhandled(command: never): number {
  throw new Error(`no body for the command '${(command as { name: string }).name}' (apps/cli/src/moat.ts)`);
}

/** Secrets never reach the terminal: the join secret, the election key, the status token. */
function redactScannerConfig<T extends { master?: { joinToken?: string | undefined } | undefined; balancer?: { election?: { key: string } | undefined; status?: { token?: string | undefined } | undefined } | undefined }>(config: T): T {
  const hide = (v: string | undefined) => (v === undefined ? undefined : '[redacted]');
  const b = config.balancer;
  return {
    ...config,
    ...(config.master ? { master: { ...config.master, joinToken: hide(config.master.joinToken) } } : {}),
    ...(b ? {
      balancer: {
        ...b,
        ...(b.election ? { election: { ...b.election, key: '[redacted]' } } : {}),
        ...(b.status ? { status: { ...b.status, token: hide(b.status.token) } } : {}),
      },
    } : {}),
  };
}

/** A problem only the command's body can see (an environment variable, a number's range): its usage on stderr, exit 2. */
function usageError(problem: string, commandName: string): number {
  const spec = COMMANDS.find((c) => c.name === commandName);
  process.stderr.write(`moat: ${problem}\n${spec ? commandHelp(spec, COMMANDS) : rootHelp(COMMANDS, ROOT_NOTES)}\n`);
  return 2;
}

/** The root package.json's version: one number for the whole tree, as a release is cut from it. */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    // A tree without its root package.json (a partial copy) still runs; it just cannot say its version.
    return 'unknown';
  }
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

/** An IPv6 literal goes in brackets inside a URL. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A role is up: publish what MOAT_HEALTH_FILE and MOAT_PID_FILE ask for; resolves one remover for its shutdown. */
async function publishRunning(descriptor: HealthDescriptor): Promise<() => Promise<void>> {
  const removers = [await publishHealth({ ...descriptor, version: version() }), await publishPid(process.env.MOAT_PID_FILE, descriptor.pid)];
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
    if (err instanceof UsageError) {
      process.stderr.write(`moat: ${err.message}\n${err.help}\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`moat: configuration error in ${err.source}:\n${err.errors.map((e) => `  ${formatFieldError(e)}`).join('\n')}\n`);
      process.exit(2);
    }
    process.stderr.write(`moat: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
