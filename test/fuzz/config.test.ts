/**
 * Fuzz target `config`: the scanner's, master's and balancer's config files through the real
 * loaders (packages/config loadConfigFile, the balancer's loadBalancerConfigFile) on random
 * YAML/JSON text: documents from each schema, mutations of real configs, text-level damage
 * (YAML syntax characters, tabs, anchors, duplicate keys, NUL, 8-bit bytes), and garbage. The
 * loader returns a frozen config or throws a ConfigError naming the key; never anything else.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadConfigFile } from '@moat/config';
import { ScannerConfigSchema } from '@moat/scanner';
import { MasterConfigSchema } from '@moat/master';
import { BalancerConfigSchema, loadBalancerConfigFile } from '@moat/balancer';
import { testScannerConfig } from '../helpers/scanner-harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { anyJson, fromSchema, mutationsOf } from './arbitraries.ts';
import { assertConfigError } from './assertions.ts';
import { fuzz } from './fuzz-runner.ts';

const BALANCER = {
  listen: { host: '127.0.0.10', port: 2525 },
  sourceAddress: '127.0.0.1',
  upstreams: [{ name: 'a', host: '127.0.0.1', port: 2600 }, { name: 'b', host: '127.0.0.2', port: 2600, weight: 2 }],
  healthCheck: { type: 'smtp', intervalMs: 200, rise: 1, fall: 1 },
  election: { nodeId: 'scanner-a', priority: 200, advertIntervalMs: 100, bind: { host: '127.0.0.1', port: 7000 }, peers: [{ host: '127.0.0.2', port: 7000 }], key: 'balancer-test-key-0123456789' },
};
const SCANNER = { ...testScannerConfig('/var/lib/moat', 2600), master: { url: 'ws://127.0.0.1:8080/cluster', joinSecret: 'a-join-secret-0123456789' }, balancer: BALANCER };
const SCANNER_STANDALONE = testScannerConfig('/var/lib/moat', 2600);
const MASTER = {
  dataDir: '/var/lib/moat-master',
  http: { host: '127.0.0.1', port: 8080 },
  cluster: { joinSecret: 'a-join-secret-0123456789', heartbeatSeconds: 5, offlineAfterMissed: 3, requestTimeoutSeconds: 5 },
  admin: { username: 'admin', password: 'a-long-password' },
  log: { level: 'info' },
};

const KINDS = {
  scanner: { schema: ScannerConfigSchema, real: [SCANNER, SCANNER_STANDALONE] },
  master: { schema: MasterConfigSchema, real: [MASTER] },
  balancer: { schema: BalancerConfigSchema, real: [BALANCER] },
} as const;
type Kind = keyof typeof KINDS;

/** Text-level damage: YAML/JSON syntax characters and raw bytes inserted, lines cut or repeated. */
function damaged(text: string): fc.Arbitrary<string> {
  const piece = fc.oneof(fc.constantFrom(':', ': ', '-', '- ', '{', '}', '[', ']', '&a ', '*a', '!!binary ', '!!js/function ', '|', '>', "'", '"', '%YAML 1.2\n', '@', '`', '#', ',', '?', '\t', '\n', '\r', '\u0000', '\uFEFF', '<<: *a\n', '~', '0x', '.inf', '1e999', '\n---\n'), fc.string({ unit: 'binary', maxLength: 8 }));
  const edit = fc.tuple(fc.nat(Math.max(0, text.length)), fc.nat(20), piece);
  return fc.array(edit, { minLength: 1, maxLength: 5 }).map((edits) => {
    let out = text;
    for (const [at, cut, insert] of edits) {
      const i = at % (out.length + 1);
      out = out.slice(0, i) + insert + out.slice(i + (cut < 3 ? cut : 0));
    }
    return out;
  });
}

const yamlOf = (doc: unknown) => stringify(doc);
const jsonOf = (doc: unknown) => JSON.stringify(doc);

function textsFor(kind: Kind): fc.Arbitrary<string> {
  const { schema, real } = KINDS[kind];
  const docs = fc.oneof({ weight: 3, arbitrary: fromSchema(schema) }, { weight: 3, arbitrary: fc.oneof(...real.map((r) => mutationsOf(r))) }, { weight: 1, arbitrary: anyJson });
  return fc.oneof(
    { weight: 4, arbitrary: docs.map(yamlOf) },
    { weight: 2, arbitrary: docs.map(jsonOf) },
    { weight: 3, arbitrary: fc.oneof(...real.map((r) => damaged(yamlOf(r)))) },
    { weight: 1, arbitrary: fc.oneof(...real.map((r) => damaged(jsonOf(r)))) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constantFrom('', '\n', '---', 'null', '[]', '42', '"x"', 'a: &a [*a]', '&a [*a, *a]', 'a: 1\na: 2', '!!binary x', '- - - - - - - - - - - - - -') },
  );
}

const tmp = tempDir('fuzz-config');
after(() => tmp.cleanup());
let loaded = 0;

test('fuzz config: loadConfigFile → a frozen config or a ConfigError naming the key', async () => {
  const file = join(tmp.path, 'config.yaml');
  await fuzz({
    name: 'config',
    defaultRuns: 500,
    // One arbitrary per kind, built once (building them per case was most of the run time).
    arbitrary: fc.oneof(...(Object.keys(KINDS) as Kind[]).map((kind) => fc.record({ kind: fc.constant(kind), text: textsFor(kind) }))),
    property({ kind, text }) {
      writeFileSync(file, text, 'latin1');
      let config: unknown;
      try {
        config = kind === 'balancer' ? loadBalancerConfigFile(file) : loadConfigFile(KINDS[kind].schema, file);
      } catch (err) {
        assertConfigError(err, file);
        return;
      }
      assert.ok(Object.isFrozen(config), 'a loaded config is frozen');
      loaded++;
    },
  });
  assert.ok(loaded > 0, 'no generated config was valid');
  console.log(`config: ${loaded} valid configs loaded`);
});
