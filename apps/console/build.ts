import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The console's production build: one bundle and one stylesheet under dist/assets/, plus
 * index.html. esbuild is the only build tool (it compiles TypeScript and Preact's JSX); the
 * master serves dist/ at `/`. No inline script or style, so the CSP can forbid both.
 */
const root = fileURLToPath(new URL('.', import.meta.url));
const dist = `${root}dist`;
rmSync(dist, { recursive: true, force: true });
mkdirSync(`${dist}/assets`, { recursive: true });
await build({
  entryPoints: { app: `${root}src/main.tsx` },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['chrome120', 'firefox120', 'safari17'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: `${dist}/assets`,
  logLevel: 'warning',
});
// One stylesheet: the chart library's, then ours (which may refine it).
const uplotCss = readFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), 'utf8');
writeFileSync(`${dist}/assets/app.css`, `${uplotCss}\n${readFileSync(`${root}src/styles.css`, 'utf8')}`);
copyFileSync(`${root}src/index.html`, `${dist}/index.html`);
console.log(`console: built into ${dist}`);
