import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { numberIn, parseTables, pickFigures, formatSummary } from '../bench/lib/summary.ts';
import { summarise } from '../bench/summarise.ts';

const DOC = `# X bench

2026-11-22T01:15:11Z · 2 cores

## Reused connections, 20 sessions

| | direct | Moat balancer | nginx |
| --- | ---: | ---: | ---: |
| msg/s (sink received) | 5,136 | **3,437** | 3,742 |
| peak RSS, MiB | — | 149 | 14 (2 procs) |

## Other

| a | b |
| --- | --- |
| x | 1 |
`;

test('bench summary: tables by section, numbers out of cells', () => {
  const tables = parseTables(DOC);
  assert.deepEqual(tables.map((t) => [t.section, t.rows.length]), [['Reused connections, 20 sessions', 2], ['Other', 1]]);
  assert.deepEqual(tables[0]!.header, ['', 'direct', 'Moat balancer', 'nginx']);
  assert.deepEqual(['5,136', '**3,437**', '14 (2 procs)', '+175%', '—', '0.95 ms'].map(numberIn), [5136, 3437, 14, 175, undefined, 0.95]);
});

test('bench summary: a figure beside its baselines with ratios; a missing file or row is named, not fatal', () => {
  const pick = { area: 'balancer', file: 'x.md', section: /^Reused/, moat: /^Moat balancer$/, baselines: [/^nginx$/, /^direct$/], higherIsBetter: true };
  const rows = pickFigures([
    { ...pick, figure: 'msg/s', row: /^msg\/s/ },
    { ...pick, figure: 'rss', row: /^peak RSS/, higherIsBetter: false },
    { ...pick, figure: 'absent row', row: /^nothing/ },
    { ...pick, figure: 'absent file', row: /^msg/, file: 'y.md' },
  ], new Map([['x.md', DOC]]));
  assert.deepEqual(rows[0]!.baselines, [{ name: 'nginx', value: '3,742', ratio: '0.92×' }, { name: 'direct', value: '5,136', ratio: '0.67×' }]);
  assert.equal(rows[0]!.moat, '3,437');
  assert.equal(rows[0]!.date, '2026-11-22 01:15');
  assert.deepEqual(rows[1]!.baselines.map((b) => b.ratio), ['10.6×', '—']);
  assert.match(rows[2]!.missing ?? '', /no row .*nothing/);
  assert.match(rows[3]!.missing ?? '', /y\.md not found/);
  const md = formatSummary(rows);
  assert.match(md, /\| balancer \| msg\/s \| ↑ \| \*\*3,437\*\* \| nginx: 3,742<br>direct: 5,136 \| 0\.92×<br>0\.67× \|/);
  assert.match(md, /\| rss \| ↓ \|/);
});

test('bench summary: every headline figure is found in the committed results files', () => {
  // A bench whose report changes shape makes its figure disappear from the summary: caught here.
  const { markdown, missing } = summarise(fileURLToPath(new URL('../bench/results', import.meta.url)));
  assert.deepEqual(missing, []);
  for (const area of ['scanner', 'master', 'balancer', 'console']) assert.match(markdown, new RegExp(`^\\| ${area} \\|`, 'm'));
});
