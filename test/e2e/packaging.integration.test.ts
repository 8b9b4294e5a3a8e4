import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { applyOverrides, parseYaml, validateDocument } from '@moat/config';
import { MasterConfigSchema } from '@moat/master';
import { ScannerConfigSchema } from '@moat/scanner';
import { validateRules } from '@moat/rules';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster } from '../helpers/cluster-harness.ts';
import { freePort, freeUdpPortsOutsideEphemeralRange } from '../helpers/ports.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';
import { buildRuntimeTree, hostPath, stageCopySources, validateByName, interpolate, parseDockerfile, parseUnit, readText, ROOT, runSync, spawnRole, waitForHealthFile, type RoleProcess } from '../helpers/packaging.ts';

// docker/, deploy/ and scripts/install.sh, checked without a Docker engine or systemd as PID 1:
// the files agree with each other and with this checkout, every config passes the real loader,
// and the image's own command lines run here as the image would run them (docs/containers.md).

const dockerfile = parseDockerfile(readText('docker/Dockerfile'));
const composeText = readText('docker/compose.yaml');
/** Values for the compose file's ${VAR:?…} secrets (docker/.env in real use). */
const SECRETS = { MOAT_JOIN_SECRET: 'packaging-join-secret-0123456789', MOAT_ELECTION_KEY: 'packaging-election-key-0123456789', MOAT_ADMIN_PASSWORD: 'packaging-admin-password' };
// merge: compose applies YAML merge keys (<<: *moat), so the parse must too.
const compose = parse(interpolate(composeText, SECRETS), { merge: true }) as {
  services: Record<string, { build?: { context: string; dockerfile: string }; image?: string; command?: string[]; environment?: Record<string, string>; volumes?: string[]; ports?: string[]; depends_on?: Record<string, unknown>; networks: Record<string, { ipv4_address: string }> }>;
  networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
};
const DOCKER_DIR = join(ROOT, 'docker');
const moatServices = Object.entries(compose.services).filter(([, s]) => s.build?.dockerfile === 'docker/Dockerfile');
/** The engines' services: one Debian image of their own (docker/engines/Dockerfile), one daemon each. */
const engineServices = Object.entries(compose.services).filter(([, s]) => s.build && s.build.dockerfile !== 'docker/Dockerfile');

/** In-container path → host path for one service: its bind mounts, and /opt/moat (the image's WORKDIR) is `app` (the checkout, or a runtime tree). */
function mountsOf(service: { volumes?: string[] }, app = ROOT): Record<string, string> {
  const mounts: Record<string, string> = { [dockerfile.workdir]: app };
  for (const v of service.volumes ?? []) {
    const [from, to] = v.split(':') as [string, string];
    if (from.startsWith('.')) mounts[to] = resolve(DOCKER_DIR, from);
  }
  return mounts;
}

/** The value after `flag` in a command line. */
const argAfter = (argv: readonly string[], flag: string) => argv[argv.indexOf(flag) + 1]!;
/** The command's own `--set` pairs. */
const setsOf = (argv: readonly string[]) => argv.flatMap((a, i) => (argv[i - 1] === '--set' ? [a] : []));

test('the Dockerfile copies only what exists, runs the CLI from its WORKDIR, and checks health with the CLI', () => {
  assert.ok(dockerfile.copySources.length >= 5);
  for (const src of dockerfile.copySources) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`);
  const ignored = readText('.dockerignore').split('\n').filter((l) => l && !l.startsWith('#'));
  for (const src of dockerfile.copySources) assert.ok(!ignored.includes(src), `${src} is not excluded by .dockerignore`);
  assert.deepEqual(dockerfile.entrypoint.slice(0, 1), ['node']);
  assert.ok(existsSync(hostPath(dockerfile.entrypoint[1]!, { [dockerfile.workdir]: ROOT })), 'the entrypoint script is in the checkout');
  assert.equal(dockerfile.cmd[0], 'master');
  assert.deepEqual(dockerfile.healthcheck, [...dockerfile.entrypoint, 'healthcheck']);
  assert.ok(dockerfile.env.MOAT_HEALTH_FILE, 'the image names the health file');
  const text = readText('docker/Dockerfile');
  assert.match(text, /^USER moat$/m, 'runs as a non-root user');
  assert.match(text, /^VOLUME \["\/var\/lib\/moat"\]$/m);
  assert.match(text, /pnpm install --frozen-lockfile --prod/, 'the runtime has production dependencies only');
  assert.match(text, /pnpm install --frozen-lockfile\n/, 'the build stage installs exactly the lockfile');
  assert.deepEqual(stageCopySources(text, 'prod-deps'), ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'packages', 'apps', 'test/package.json'], 'what buildRuntimeTree copies');
});

test('compose.yaml parses and references only files, services, volumes and addresses that exist and agree', () => {
  assert.deepEqual(Object.keys(compose.services).sort(), ['clamd', 'mailpit', 'master', 'redis', 'rspamd', 'scanner-1', 'scanner-2', 'spamd']);
  assert.deepEqual(engineServices.map(([n]) => n).sort(), ['clamd', 'redis', 'rspamd', 'spamd']);
  assert.match(compose.services.mailpit!.image!, /^axllent\/mailpit:/);
  const subnet = compose.networks.moat!.ipam.config[0]!.subnet;
  const prefix = subnet.replace(/\.0\/24$/, '.');
  const addressOf = (name: string) => compose.services[name]!.networks.moat!.ipv4_address;
  for (const [name, s] of Object.entries(compose.services)) {
    assert.ok(addressOf(name).startsWith(prefix), `${name} is inside ${subnet}`);
    for (const v of s.volumes ?? []) {
      const from = v.split(':')[0]!;
      if (from.startsWith('.')) assert.ok(existsSync(resolve(DOCKER_DIR, from)), `${name}: bind mount ${from} exists`);
      else assert.ok(from in compose.volumes, `${name}: volume ${from} is declared`);
    }
    for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(dep in compose.services, `${name} depends on a service that exists`);
  }
  for (const [name, s] of moatServices) {
    assert.ok(existsSync(resolve(DOCKER_DIR, s.build!.context, s.build!.dockerfile)), `${name}: the Dockerfile exists`);
    const config = hostPath(argAfter(s.command!, '--config'), mountsOf(s));
    assert.ok(existsSync(config), `${name}: ${config} exists`);
  }
  // The scanners' configs agree with the compose network: election peers, PROXY trust, relay, master.
  const scanners = moatServices.filter(([, s]) => s.command![0] === 'scanner');
  assert.equal(scanners.length, 2);
  for (const [name, s] of scanners) {
    const doc = parse(readFileSync(hostPath(argAfter(s.command!, '--config'), mountsOf(s)), 'utf8'));
    const others = scanners.filter(([n]) => n !== name).map(([n]) => addressOf(n));
    assert.equal(doc.node.name, name, 'node name = service name (the rules\' nodes.<name>)');
    assert.equal(doc.balancer.election.bind.host, addressOf(name), `${name} binds the election on its own fixed address`);
    assert.deepEqual(doc.balancer.election.peers.map((p: { host: string }) => p.host), others);
    assert.deepEqual([...doc.smtp.trustedProxies].sort(), scanners.map(([n]) => addressOf(n)).sort(), 'PROXY lines trusted from both balancers');
    assert.deepEqual(doc.balancer.upstreams.map((u: { name: string; host: string }) => [u.name, u.host]), scanners.map(([n]) => [n, addressOf(n)]));
    assert.ok(doc.relay.host in compose.services, 'relay.host is a compose service');
    assert.ok(new URL(doc.master.url).hostname in compose.services, 'master.url names a compose service');
    assert.ok(s.ports!.some((p) => p.endsWith(`:${doc.balancer.listen.port}`)), `${name} publishes the virtual port`);
  }
});

test('compose engines: the scanners\' analyzers name the engine services on the ports their configs listen on, and the engines trust exactly the scanners', () => {
  const engines = resolve(DOCKER_DIR, engineServices[0]![1].build!.context);
  const image = readText('docker/engines/Dockerfile');
  for (const [name, s] of engineServices) assert.equal(resolve(DOCKER_DIR, s.build!.context), engines, `${name} runs the engines image`);
  // Every COPY source of the engines image is in its build context.
  for (const [, src] of image.matchAll(/^COPY (\S+) /gm)) assert.ok(existsSync(join(engines, src!)), `engines image: COPY ${src} exists`);
  assert.match(image, /apt-get install -y --no-install-recommends rspamd redis-server spamassassin spamd spamc/);

  const scanners = moatServices.filter(([, s]) => s.command![0] === 'scanner');
  const scannerAddresses = scanners.map(([n]) => compose.services[n]!.networks.moat!.ipv4_address).sort();
  assert.equal(scannerAddresses.length, 2);
  const rspamdPort = Number(/bind_socket = "\*:(\d+)"/.exec(readFileSync(join(engines, 'rspamd/worker-normal.inc'), 'utf8'))![1]);
  const controller = readFileSync(join(engines, 'rspamd/worker-controller.inc'), 'utf8');
  const spamd = compose.services.spamd!.command!;
  const spamdPort = Number(/^--listen=0\.0\.0\.0:(\d+)$/.exec(spamd.find((a) => a.startsWith('--listen='))!)![1]);
  const clamdConf = readFileSync(join(engines, 'clamd.conf'), 'utf8');
  const clamdPort = Number(/^TCPSocket (\d+)$/m.exec(clamdConf)![1]);
  for (const [name, s] of scanners) {
    const doc = parse(readFileSync(hostPath(argAfter(s.command!, '--config'), mountsOf(s)), 'utf8'));
    const rspamd = new URL(doc.analyzers.rspamd.url);
    assert.deepEqual([rspamd.hostname, Number(rspamd.port)], ['rspamd', rspamdPort], `${name}: analyzers.rspamd.url`);
    const learn = new URL(doc.analyzers.rspamd.controllerUrl);
    assert.deepEqual([learn.hostname, Number(learn.port)], ['rspamd', Number(/bind_socket = "\*:(\d+)"/.exec(controller)![1])], `${name}: analyzers.rspamd.controllerUrl`);
    assert.deepEqual([doc.analyzers.spamassassin.host, doc.analyzers.spamassassin.port], ['spamd', spamdPort], `${name}: analyzers.spamassassin`);
    assert.deepEqual([doc.analyzers.clamav.host, doc.analyzers.clamav.port], ['clamd', clamdPort], `${name}: analyzers.clamav`);
    // clamd resets a stream past its StreamMaxLength: the scanner must not send more.
    assert.match(clamdConf, /^StreamMaxLength 25M$/m);
    assert.equal(doc.analyzers.clamav.streamMaxBytes, 25 * 1024 * 1024, `${name}: streamMaxBytes = clamd's StreamMaxLength`);
    for (const engine of ['rspamd', 'spamd', 'clamd']) assert.ok(engine in (s.depends_on ?? {}), `${name} starts after ${engine}`);
  }
  // Rspamd's Bayes lives in the redis service; the trust lists name the scanners, not the subnet (published mail comes from its gateway).
  assert.match(readFileSync(join(engines, 'rspamd/redis.conf'), 'utf8'), /^servers = "redis:6379";$/m);
  assert.deepEqual([...controller.matchAll(/"(172\.28\.[\d.]+)"/g)].map((m) => m[1]).sort(), scannerAddresses);
  assert.deepEqual(spamd.find((a) => a.startsWith('--allowed-ips='))!.split('=')[1]!.split(',').filter((a) => a !== '127.0.0.1').sort(), scannerAddresses);
  const sa = readFileSync(join(engines, 'spamassassin-local.cf'), 'utf8');
  for (const key of ['trusted_networks', 'internal_networks']) assert.deepEqual(new RegExp(`^${key} (.+)$`, 'm').exec(sa)![1]!.split(' ').sort(), scannerAddresses, key);
});

test('every config under docker/ (with compose\'s own --set) and deploy/ validates with the real loaders', () => {
  for (const [name, s] of moatServices) {
    const file = hostPath(argAfter(s.command!, '--config'), mountsOf(s));
    const doc = applyOverrides(parseYaml(readFileSync(file, 'utf8'), file), setsOf(s.command!));
    validateDocument(s.command![0] === 'master' ? MasterConfigSchema : ScannerConfigSchema, doc, `${name}: ${file}`);
  }
  const files = [...readdirSync(join(DOCKER_DIR, 'config')).map((f) => join(DOCKER_DIR, 'config', f)), ...readdirSync(join(ROOT, 'deploy/config')).map((f) => join(ROOT, 'deploy/config', f))];
  const composeConfigs = new Set(moatServices.map(([, s]) => hostPath(argAfter(s.command!, '--config'), mountsOf(s))));
  for (const file of files) if (!composeConfigs.has(file)) validateByName(file);
  // The master's first rules are a valid rules document too.
  const master = parse(readFileSync(join(DOCKER_DIR, 'config/master.yaml'), 'utf8'));
  const seed = hostPath(master.rules.seedFile, mountsOf(compose.services.master!));
  validateRules(parseYaml(readFileSync(seed, 'utf8'), seed), seed);
});

test('the image\'s command lines run on this host as the image runs them: master, two scanners electing the virtual address, mail through it', async (t) => {
  const started = Date.now();
  const phase = (what: string) => t.diagnostic(`${what} after ${Date.now() - started} ms`);
  const tmp = tempDir('packaging');
  // /opt/moat as the runtime stage has it: production dependencies only, no tests, the built console.
  const app = buildRuntimeTree(join(tmp.path, 'opt-moat')) ?? ROOT;
  phase(app === ROOT ? 'no pnpm: running from the checkout' : 'runtime tree (production dependencies only) built');
  const downstream = await startDownstream(); // stands in for mailpit
  const procs: RoleProcess[] = [];
  t.after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await downstream.close();
    tmp.cleanup();
  });
  /** The compose file as `docker compose` reads it with these docker/.env values besides the secrets. */
  const composeWith = (vars: Record<string, string>): typeof compose => parse(interpolate(composeText, { ...SECRETS, ...vars }), { merge: true }) as typeof compose;
  const image = (service: string, dotEnv: Record<string, string> = {}) => {
    const s = composeWith(dotEnv).services[service]!;
    const mounts = { ...mountsOf(s, app), '/run/moat': join(tmp.path, service, 'run') };
    mkdirSync(mounts['/run/moat'], { recursive: true });
    const healthFile = hostPath(dockerfile.env.MOAT_HEALTH_FILE!, mounts);
    // ENTRYPOINT + the service's command, paths mapped to this checkout, `node` = the Node 24 running this test.
    const argv = [...dockerfile.entrypoint, ...s.command!].map((a, i) => (i === 0 ? process.execPath : hostPath(a, mounts)));
    const env = { ...dockerfile.env, ...(s.environment ?? {}), MOAT_HEALTH_FILE: healthFile };
    const healthcheck = () => runSync(dockerfile.healthcheck.map((a, i) => (i === 0 ? process.execPath : hostPath(a, mounts))), env);
    const configDoc = parse(readFileSync(argAfter(argv, '--config'), 'utf8'));
    return { argv, env, healthFile, healthcheck, configDoc, mounts };
  };

  // Only addresses, ports and data folders are overridden (--set), everything else is the shipped config.
  const master = image('master');
  const masterPort = await freePort();
  const masterSets = ['--set', `dataDir=${join(tmp.path, 'master', 'data')}`, '--set', 'http.host=127.0.0.1', '--set', `http.port=${masterPort}`, '--set', `rules.seedFile=${hostPath(master.configDoc.rules.seedFile, master.mounts)}`];
  // The scanners' one-time join tokens, made as docs/containers.md makes them before the first
  // `up` (`docker compose run --rm master master join-token --config /etc/moat/master.yaml
  // --node scanner-N`, into docker/.env as MOAT_JOIN_TOKEN_SCANNER_N).
  const tokens: Record<string, string> = {};
  for (const n of [1, 2]) {
    const argv = [...dockerfile.entrypoint, 'master', 'join-token', '--config', '/etc/moat/master.yaml', '--node', `scanner-${n}`].map((a, i) => (i === 0 ? process.execPath : hostPath(a, master.mounts)));
    const minted = runSync([...argv, ...masterSets], master.env);
    assert.equal(minted.status, 0, minted.stdout + minted.stderr);
    tokens[`MOAT_JOIN_TOKEN_SCANNER_${n}`] = minted.stdout.trim();
  }
  phase('join tokens made');
  const masterProc = spawnRole([...master.argv, ...masterSets], master.env);
  procs.push(masterProc);
  await waitForHealthFile(masterProc, master.healthFile, 'the master');
  const mh = master.healthcheck();
  assert.equal(mh.status, 0, mh.stdout + mh.stderr);
  phase('master healthy');

  // Compose addresses → loopback: each scanner's SMTP port and election address on this host.
  const names = ['scanner-1', 'scanner-2'];
  const local = new Map<string, { name: string; smtpPort: number; electionHost: string; electionPort: number }>();
  // The elections' UDP ports: none from the ephemeral range, which any UDP client socket may be given before the scanners bind.
  const electionPorts = await freeUdpPortsOutsideEphemeralRange(names.length);
  for (const [i, name] of names.entries()) {
    local.set(compose.services[name]!.networks.moat!.ipv4_address, { name, smtpPort: await freePort(), electionHost: `127.0.0.${i + 1}`, electionPort: electionPorts[i]! });
  }
  const virtualPort = await freePort();
  const scanners = names.map((name) => {
    const img = image(name, tokens);
    const me = [...local.values()].find((l) => l.name === name)!;
    const cfg = img.configDoc;
    const sets = [
      `dataDir=${join(tmp.path, name, 'data')}`,
      'smtp.listen.host=127.0.0.1', `smtp.listen.port=${me.smtpPort}`, 'smtp.trustedProxies=[127.0.0.3]',
      'relay.host=127.0.0.1', `relay.port=${downstream.port}`,
      `master.url=ws://127.0.0.1:${masterPort}/cluster`,
      'balancer.listen.host=127.0.0.1', `balancer.listen.port=${virtualPort}`, 'balancer.sourceAddress=127.0.0.3',
      // The engines' services are not run here (their Debian daemons are tested by the local cluster and engine tests).
      'analyzers={}',
      ...cfg.balancer.upstreams.flatMap((u: { host: string }, j: number) => [`balancer.upstreams.${j}.host=127.0.0.1`, `balancer.upstreams.${j}.port=${local.get(u.host)!.smtpPort}`]),
      `balancer.election.bind.host=${me.electionHost}`, `balancer.election.bind.port=${me.electionPort}`,
      ...cfg.balancer.election.peers.flatMap((p: { host: string }, j: number) => [`balancer.election.peers.${j}.host=${local.get(p.host)!.electionHost}`, `balancer.election.peers.${j}.port=${local.get(p.host)!.electionPort}`]),
    ];
    const proc = spawnRole([...img.argv, ...sets.flatMap((s) => ['--set', s])], img.env);
    procs.push(proc);
    return { img, proc, name };
  });
  for (const s of scanners) await waitForHealthFile(s.proc, s.img.healthFile, s.name);
  phase('both scanners serving');
  for (const s of scanners) {
    const h = s.img.healthcheck();
    assert.equal(h.status, 0, `${s.name}: ${h.stdout}${h.stderr}`);
    assert.match(h.stdout, /^healthy/);
  }

  // One of them holds the virtual address; a message sent there is delivered downstream.
  let sent = { ok: false, response: '' };
  await waitUntil(async () => (sent = await sendMail(virtualPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'through the docker configs' }))).ok, 'the virtual address to accept mail', 30_000, 200);
  assert.match(sent.response, /^250 /);
  await downstream.waitFor(1);
  phase('a message through the virtual address delivered');
  assert.match(downstream.received[0]!.raw.toString(), /through the docker configs/);

  // SIGTERM: a clean exit (status 0), the health file goes, and the check then says unhealthy.
  for (const s of [...scanners].reverse()) {
    assert.equal(await s.proc.stop(), 0, s.proc.output());
    const h = s.img.healthcheck();
    assert.equal(h.status, 1);
    assert.match(h.stdout, /unhealthy/);
  }
  assert.equal(await masterProc.stop(), 0, masterProc.output());
  assert.equal(master.healthcheck().status, 1);
  phase('all stopped');
});

const UNITS = ['master', 'scanner', 'balancer'];

test('systemd units: sandboxed, ExecStart names files this checkout installs, and the command line parses the deploy configs', () => {
  // /opt/moat/current is the release install.sh unpacks: this checkout's files, bin/moat included.
  const installed = { '/opt/moat/current': ROOT, '/etc/moat': join(ROOT, 'deploy/config') };
  for (const role of UNITS) {
    const unit = parseUnit(readText(`deploy/systemd/moat-${role}.service`));
    const one = (k: string) => unit.get(`Service.${k}`)?.at(-1);
    assert.equal(one('User'), 'moat');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('StateDirectory'), 'moat');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.ok(one('RestrictAddressFamilies')!.split(' ').every((f) => ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK'].includes(f)));
    const caps = one('CapabilityBoundingSet')!.split(' ');
    assert.deepEqual(caps, role === 'master' ? ['CAP_NET_BIND_SERVICE'] : ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN']);
    assert.equal(one('RestartPreventExitStatus'), '2', 'a config error is not restarted in a loop');
    assert.equal(one('Environment'), `MOAT_HEALTH_FILE=/var/lib/moat/${role}.health.json`, 'the health file moat upgrade waits on');
    const exec = one('ExecStart')!.split(' ');
    assert.deepEqual(exec.map((a) => a.replace(/^\/etc\/moat\/.*/, 'CONFIG')), ['/opt/moat/current/bin/moat', role, '--config', 'CONFIG']);
    for (const path of [exec[0]!, exec[3]!]) assert.ok(existsSync(hostPath(path, installed)), `${role}: ${path} is installed from ${hostPath(path, installed)}`);
    validateByName(hostPath(exec[3]!, installed));
    if (role !== 'balancer') {
      const printed = runSync([...exec.map((a) => hostPath(a, installed)), '--print-config']);
      assert.equal(printed.status, 0, printed.stderr);
      assert.match(printed.stdout, new RegExp(`dataDir: /var/lib/moat/${role}`));
    }
  }
});

// install.sh, the installed units under systemd-analyze and `moat upgrade`: release.integration.test.ts (they need a built release).

test('a scanner that cannot join (no credential, no join secret) keeps running, says why, and is unhealthy', async (t) => {
  const tmp = tempDir('nojoin');
  const master = await startTestMaster();
  const healthFile = join(tmp.path, 'health.json');
  const config = join(tmp.path, 'scanner.yaml');
  writeFileSync(config, `node: { name: lonely }\ndataDir: ${join(tmp.path, 'data')}\nmaster: { url: "${master.wsUrl}", reconnectBaseSeconds: 0.05, reconnectMaxSeconds: 0.1 }\n`);
  const env = { MOAT_HEALTH_FILE: healthFile, MOAT_JOIN_SECRET: '' };
  const proc = spawnRole([process.execPath, join(ROOT, 'apps/cli/src/moat.ts'), 'scanner', '--config', config], env);
  t.after(async () => {
    await proc.stop();
    await master.close();
    tmp.cleanup();
  });
  await waitUntil(() => proc.output().includes('RULES_WAITING'), 'the scanner to wait for rules', 20_000);
  // It retries the link for as long as it runs; before the fix it exited with status 0 here.
  await waitUntil(() => (proc.output().match(/LINK_NO_CREDENTIAL/g) ?? []).length >= 3, 'several tries, each saying why', 20_000);
  assert.equal(proc.child.exitCode, null, proc.output());
  const h = runSync([process.execPath, join(ROOT, 'apps/cli/src/moat.ts'), 'healthcheck'], env);
  assert.equal(h.status, 1);
  assert.match(h.stdout, /unhealthy: no health descriptor/);
});

test('the balancer unit\'s command line runs here with the deploy config (addresses overridden): it takes the address, answers, and its health check follows it', async (t) => {
  const tmp = tempDir('lb-unit');
  const unit = parseUnit(readText('deploy/systemd/moat-balancer.service'));
  const installed = { '/opt/moat/current': ROOT, '/etc/moat': join(ROOT, 'deploy/config') };
  const argv = unit.get('Service.ExecStart')!.at(-1)!.split(' ').map((a) => hostPath(a, installed));
  const [listen, up1, up2, bind, peer] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const sets = [
    'listen.host=127.0.0.1', `listen.port=${listen}`, 'sourceAddress=127.0.0.1',
    'upstreams.0.host=127.0.0.1', `upstreams.0.port=${up1}`, 'upstreams.1.host=127.0.0.1', `upstreams.1.port=${up2}`,
    'election.bind.host=127.0.0.1', `election.bind.port=${bind}`, 'election.peers.0.host=127.0.0.2', `election.peers.0.port=${peer}`,
  ];
  const env = { MOAT_HEALTH_FILE: join(tmp.path, 'health.json') };
  const proc = spawnRole([...argv, ...sets.flatMap((s) => ['--set', s])], env);
  t.after(async () => {
    await proc.stop();
    tmp.cleanup();
  });
  await waitForHealthFile(proc, env.MOAT_HEALTH_FILE, 'the balancer');
  const healthcheck = () => runSync([process.execPath, join(ROOT, 'apps/cli/src/moat.ts'), 'healthcheck'], env);
  assert.equal(healthcheck().status, 0);
  // Alone in its group it becomes the holder; with no scanner up it answers 421 4.3.2.
  await waitUntil(() => proc.output().includes('lb.listening'), 'the balancer to take the virtual address', 20_000);
  const sent = await sendMail(listen, { from: 'a@origin.test', to: ['user@example.test'] }, message());
  assert.equal(sent.ok, false);
  assert.match(sent.response, /^421 4\.3\.2/);
  assert.equal(await proc.stop(), 0, proc.output());
  assert.equal(healthcheck().status, 1);
});
