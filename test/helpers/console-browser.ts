import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { unreadableText } from './readable-text.ts';
import { lookAtScreenshot } from './page-layout.ts';

/** Debian's Chromium (playwright-core drives it; no browser download). */
export const CHROMIUM = '/usr/bin/chromium';
/** The console bundle the master serves (`pnpm build`). */
export const CONSOLE_BUILT = fileURLToPath(new URL('../../apps/console/dist/index.html', import.meta.url));
/** Where the console tests write their screenshots: docs/console/, or MOAT_SHOTS_DIR (a trial run that should leave the docs alone). */
export const SHOTS = process.env['MOAT_SHOTS_DIR'] ? `${process.env['MOAT_SHOTS_DIR'].replace(/\/$/, '')}/` : fileURLToPath(new URL('../../docs/console/', import.meta.url));

/** Why a test that needs only Chromium (no console) cannot run here, or false; never under MOAT_REQUIRE_BROWSER=1. */
export const browserSkip: string | false =
  process.env['MOAT_REQUIRE_BROWSER'] === '1' ? false
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`
  : false;

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

/**
 * A full-page screenshot into docs/console/NAME.png, after checking that every visible text is
 * readable (contrast) and looking at the screenshot itself: its data region is not blank and no
 * two pieces of text overlap (test/helpers/page-layout.ts). A screenshot that fails a look goes
 * to the temporary directory instead, named in the failure, so docs/console/ keeps only good ones.
 */
export async function shot(page: Page, name: string): Promise<void> {
  assert.deepEqual(await unreadableText(page), [], `${name}: visible text without enough contrast against its background`);
  // A page may still be drawing (a chart, a reload after an action): what is blank or overlapping
  // must stay so for a few seconds to count, so a screenshot is looked at again until it passes.
  const deadline = Date.now() + 5000;
  let png = await page.screenshot({ fullPage: true });
  let { blank, overlaps } = await lookAtScreenshot(page, png);
  while ((blank.length > 0 || overlaps.length > 0) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    png = await page.screenshot({ fullPage: true });
    ({ blank, overlaps } = await lookAtScreenshot(page, png));
  }
  if (blank.length > 0 || overlaps.length > 0) {
    const kept = join(tmpdir(), `moat-failed-${name}.png`);
    writeFileSync(kept, png);
    assert.deepEqual(blank, [], `${name}: a data region is blank in the screenshot (${kept})`);
    assert.deepEqual(overlaps, [], `${name}: text drawn over other text in the screenshot (${kept})`);
  }
  writeFileSync(`${SHOTS}${name}.png`, png);
}
