import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { tempDir } from '../helpers/temp-dir.ts';

const MOAT = join(import.meta.dirname, '..', '..', 'apps/cli/src/moat.ts');

function config(dir: string, master: Record<string, unknown>): string {
  const file = join(dir, `scanner-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ node: { name: 'plain-1' }, dataDir: join(dir, 'data'), smtp: { listen: { port: 0 } }, master }));
  return file;
}

/** Issue 18: a scanner config accepted a plaintext ws:// link to a master off loopback. */
test('moat scanner refuses a plain ws:// master off loopback, naming master.url; master.allowInsecure lets it start, with a warning', async () => {
  const dirs = tempDir('plaintext-link');
  try {
    // 192.0.2.0/24 is TEST-NET-1: never routed, so nothing is dialled either way.
    const refused = spawnSync(process.execPath, [MOAT, 'scanner', '--config', config(dirs.path, { url: 'ws://192.0.2.10:8080/cluster' })], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /master\.url: ws:\/\/192\.0\.2\.10:8080\/cluster is a plain ws:\/\/ link to a master that is not on loopback/);

    const listed = spawnSync(process.execPath, [MOAT, 'scanner', '--config', config(dirs.path, { url: ['ws://127.0.0.1:9/cluster', 'ws://master-2.example.test/cluster'] })], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(listed.status, 2, listed.stderr);
    assert.match(listed.stderr, /master\.url\.1: ws:\/\/master-2\.example\.test\/cluster is a plain ws:\/\//);

    const allowed = spawn(process.execPath, [MOAT, 'scanner', '--config', config(dirs.path, { url: 'ws://192.0.2.10:8080/cluster', allowInsecure: true })], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines = createInterface({ input: allowed.stdout });
      let warned: Record<string, unknown> | undefined;
      for await (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.event === 'LINK_INSECURE') {
          warned = entry;
          break;
        }
      }
      assert.equal(warned?.url, 'ws://192.0.2.10:8080/cluster');
      assert.equal(warned?.level, 40, 'a warning');
    } finally {
      allowed.kill('SIGTERM');
      if (allowed.exitCode === null) await once(allowed, 'exit');
    }
  } finally {
    dirs.cleanup();
  }
});
