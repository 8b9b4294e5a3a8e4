import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { unreadableText } from './readable-text.ts';

/** Debian's Chromium (playwright-core drives it; no browser download). */
export const CHROMIUM = '/usr/bin/chromium';
/** The console bundle the master serves (`pnpm build`). */
export const CONSOLE_BUILT = fileURLToPath(new URL('../../apps/console/dist/index.html', import.meta.url));
/** Where the console tests write their screenshots (docs/console/). */
export const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));

/**
 * Why a console test cannot run here, or false. With MOAT_REQUIRE_BROWSER=1 (.ci/run sets it)
 * never: a missing Chromium or console build then fails the test instead of skipping it.
 */
export const consoleSkip: string | false =
  process.env['MOAT_REQUIRE_BROWSER'] === '1' ? false
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`
  : !existsSync(CONSOLE_BUILT) ? 'the console is not built: pnpm build'
  : false;

/** Headless Chromium as every console test starts it (no background networking: this machine reaches no Internet). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
}

/** A full-page screenshot into docs/console/NAME.png, after checking that every visible text is readable. */
export async function shot(page: Page, name: string): Promise<void> {
  assert.deepEqual(await unreadableText(page), [], `${name}: visible text without enough contrast against its background`);
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}
