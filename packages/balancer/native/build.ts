/**
 * Builds the balancer's native relay (relay.c → build/moat_relay.node) with the machine's C
 * compiler against the Node-API headers of the `node-api-headers` package: no node-gyp, no
 * Python, no Node source headers. Part of `pnpm run build` (and so of scripts/setup.sh).
 *
 * Without a C compiler this prints why and exits 0: the balancer then relays in JavaScript
 * (docs/balancer.md, "Relay paths"). CI requires the relay in its tests instead
 * (MOAT_REQUIRE_NATIVE=1, relay-paths.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'moat_relay.node');

function give(reason: string): never {
  process.stderr.write(`native relay not built (${reason}); the balancer will relay in JavaScript\n`);
  process.exit(0);
}

if (process.platform !== 'linux') give(`it needs Linux (epoll), this is ${process.platform}`);
const cc = process.env.CC ?? 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) give(`no C compiler (${cc}); on Debian: apt-get install -y gcc libc6-dev`);
let include: string;
try {
  include = join(dirname(createRequire(join(here, '..', 'package.json')).resolve('node-api-headers/package.json')), 'include');
} catch {
  give('the node-api-headers package is not installed (pnpm install)');
}
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp`;
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-I', include, join(here, 'relay.c'), '-o', tmp, '-lpthread'], { stdio: 'inherit' });
if (r.status !== 0) give(`${cc} failed (exit ${r.status ?? r.signal})`);
renameSync(tmp, out); // a running balancer keeps the old file's mapping
process.stdout.write(`native relay built: ${out}\n`);
