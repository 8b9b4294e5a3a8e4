// Where the time goes: summarise a V8 .cpuprofile (from `--cpu-prof`) by self time, per
// function and per package. Usage: node test/bench/cpu-profile-summary.ts DIR_OR_FILE [--top 25]
// e.g. pnpm bench:scanner --targets scanner --modes reuse --scanner-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const target = process.argv[2];
const top = Number(process.argv[process.argv.indexOf('--top') + 1]) || 25;
if (!target) {
  process.stderr.write('usage: node test/bench/cpu-profile-summary.ts DIR_OR_FILE [--top N]\n');
  process.exit(2);
}
const file = statSync(target).isDirectory() ? join(target, readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1) ?? '') : target;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfTime = new Map<number, number>();
profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

/** A package name for a URL: the pnpm store entry, a workspace path, or a Node built-in. */
function owner(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/\.pnpm\/([^/]+)\//.exec(url);
  if (pkg?.[1]) return pkg[1].replace(/@(\d[^_]*).*$/, '');
  const ws = /\/(apps|packages)\/([^/]+)\//.exec(url);
  if (ws) return `${ws[1]}/${ws[2]}`;
  return url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : url;
}

const perFunction = new Map<string, number>();
const perOwner = new Map<string, number>();
let total = 0;
for (const [id, t] of selfTime) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
  perFunction.set(key, (perFunction.get(key) ?? 0) + t);
  const o = owner(url, functionName);
  perOwner.set(o, (perOwner.get(o) ?? 0) + t);
  total += t;
}
const table = (m: Map<string, number>) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => `| ${((t / total) * 100).toFixed(1)}% | ${(t / 1000).toFixed(0)} ms | \`${k}\` |`).join('\n');
process.stdout.write(`Profile ${file}: ${(total / 1e6).toFixed(1)} s sampled\n\n| self | time | by package |\n| ---: | ---: | --- |\n${table(perOwner)}\n\n| self | time | by function |\n| ---: | ---: | --- |\n${table(perFunction)}\n`);
