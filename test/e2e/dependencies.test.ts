import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/packaging.ts';

// The dependency tree's hygiene (issue 20): type packages that describe the versions we run,
// and one copy of the libraries whose behaviour must be the same everywhere.

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Every workspace package: the root, apps/*, packages/* and test. */
const workspaces = ['.', 'test', ...['apps', 'packages'].flatMap((d) => readdirSync(join(ROOT, d)).map((n) => `${d}/${n}`))]
  .filter((dir) => existsSync(join(ROOT, dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest }));

/**
 * An @types package whose major differs from its library's, and why. DefinitelyTyped has no
 * types for better-sqlite3 past 9.x; its API (prepare, run, get, all, transaction, backup) is
 * the same in 13.
 */
const MAJOR_EXCEPTIONS: Record<string, string> = { 'better-sqlite3': '13 → 9' };

const major = (version: string) => Number(/(\d+)/.exec(version)![1]);

/** The version of `name` that the workspace in `dir` resolves, and whether it ships its own declarations. */
function installed(dir: string, name: string): { version: string; ownTypes: boolean } | undefined {
  if (name === 'node') return { version: process.versions.node, ownTypes: false };
  // pnpm links each workspace's direct dependencies into its own node_modules.
  const file = join(ROOT, dir, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version: string; types?: string; typings?: string; main?: string; exports?: unknown };
  const root = dirname(file);
  const entry = (e: unknown): string | undefined => (typeof e === 'string' ? e : e && typeof e === 'object' ? entry((e as Record<string, unknown>)['.'] ?? (e as Record<string, unknown>).types ?? (e as Record<string, unknown>).import ?? (e as Record<string, unknown>).default) : undefined);
  const main = entry(pkg.exports) ?? pkg.main ?? 'index.js';
  const declarations = [pkg.types, pkg.typings, main.endsWith('.d.ts') ? main : main.replace(/\.[cm]?js$/, '.d.ts')].filter((p): p is string => typeof p === 'string');
  return { version: pkg.version, ownTypes: declarations.some((p) => existsSync(join(root, p))) };
}

test('every @types package is pinned, its library is a dependency without types of its own, and their majors agree', () => {
  let seen = 0;
  for (const { dir, manifest } of workspaces) {
    for (const [name, spec] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      if (!name.startsWith('@types/')) continue;
      seen++;
      const library = name.slice('@types/'.length);
      assert.match(spec, /^\d+\.\d+\.\d+$/, `${dir}: ${name} is pinned to one version (got ${spec})`);
      const using = workspaces.find((w) => w.manifest.dependencies?.[library] ?? w.manifest.devDependencies?.[library]);
      assert.ok(library === 'node' || using, `${dir}: ${name} describes ${library}, which no workspace package depends on`);
      const lib = installed(using?.dir ?? dir, library);
      assert.ok(lib, `${library} is installed`);
      assert.equal(lib.ownTypes, false, `${dir}: ${library} ${lib.version} ships its own types: drop ${name}`);
      if (MAJOR_EXCEPTIONS[library] === undefined) assert.equal(major(spec), major(lib.version), `${dir}: ${name} ${spec} is for ${library} ${major(spec)}.x, the tree runs ${lib.version}`);
    }
  }
  assert.ok(seen >= 5, 'the manifests were read');
});

test('one copy of nodemailer in the lockfile (mailauth and mailparser use ours through the override)', () => {
  const lock = parse(readFileSync(join(ROOT, 'pnpm-lock.yaml'), 'utf8')) as { packages: Record<string, unknown> };
  const versions = (name: string) => Object.keys(lock.packages).filter((k) => k.startsWith(`${name}@`)).map((k) => k.slice(name.length + 1));
  assert.equal(versions('nodemailer').length, 1, `nodemailer versions: ${versions('nodemailer').join(', ')}`);
  assert.ok(versions('mailauth').length === 1 && versions('mailparser').length === 1, 'the libraries that pulled older copies are still there');
});
