import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { browserSkip, launchChromium, shot, SHOTS } from '../helpers/console-browser.ts';
import { lookAtScreenshot, type LayoutProblems } from '../helpers/page-layout.ts';
import { unreadableText } from '../helpers/readable-text.ts';

/**
 * The checks every console screenshot passes (test/helpers/page-layout.ts) fail on pages made
 * broken on purpose, in the same headless Chromium: a blank data region, text drawn over text.
 * Each broken page is a good page with one thing changed, and the good page passes.
 */
const STYLE = 'body { margin: 0; font: 15px/1.45 sans-serif; background: #f6f8fa; color: #1d2430 } main { padding: 1rem; position: relative } table { border-collapse: collapse; background: #fff } td { border-bottom: 1px solid #d8dee6; padding: .4rem .6rem }';
const TABLE = '<table data-testid="rows"><tbody><tr><td>scanner-1</td><td>online</td><td>12</td></tr><tr><td>scanner-2</td><td>offline</td><td>0</td></tr></tbody></table>';
const CHART = '<canvas width="200" height="80"></canvas><script>const c = document.querySelector("canvas").getContext("2d"); c.fillStyle = "#2e90fa"; c.fillRect(10, 30, 40, 50); c.fillRect(60, 10, 40, 70);</script>';
const page = (body: string, style = '') => `<!doctype html><html><head><style>${STYLE} ${style}</style></head><body><main><h1>Dashboard</h1>${body}</main></body></html>`;

test('the screenshot checks: a blank data region and overlapping text fail, a good page passes', { skip: browserSkip, timeout: 60_000 }, async (t) => {
  const browser: Browser = await launchChromium();
  t.after(() => browser.close());
  const tab: Page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const look = async (html: string): Promise<LayoutProblems> => {
    await tab.setContent(html);
    return lookAtScreenshot(tab, await tab.screenshot({ fullPage: true }));
  };

  await t.test('a good page: text, a table, a drawn chart, a paragraph over several lines, a nested badge, a closed <details>', async () => {
    const got = await look(page(`${TABLE}${CHART}<p style="width: 200px">A paragraph long enough to wrap onto a few lines, with <small>a nested part</small> inside.</p><p>v3 <span class="pill" style="background:#dcfae6">current</span></p><details><summary>All headers</summary><pre>From: a@origin.test\nTo: user@example.test\nSubject: laid out, not drawn</pre></details><h2>Text</h2>`));
    assert.deepEqual(got, { blank: [], overlaps: [] });
  });

  await t.test('blank: a table whose text is white on white', async () => {
    const got = await look(page(TABLE, 'td { color: #fff }'));
    assert.equal(got.blank.length, 1, got.blank.join('\n'));
    assert.match(got.blank[0]!, /^table in \[data-testid=rows\]: none of its 6 pieces of text shows/);
  });

  await t.test('blank: a table under an opaque layer, which the contrast check cannot see', async () => {
    const html = page(`${TABLE}<div style="position: absolute; left: 0; right: 0; top: 3rem; height: 10rem; background: #f6f8fa"></div>`);
    await tab.setContent(html);
    assert.deepEqual(await unreadableText(tab), [], 'every colour has its contrast');
    const got = await look(html);
    assert.match(got.blank.join('\n'), /table in \[data-testid=rows\]: none of its 6 pieces of text shows/);
  });

  await t.test('blank: a chart canvas nothing was drawn on, and a main region with nothing in it', async () => {
    const got = await look(page('<canvas width="200" height="80"></canvas>'));
    assert.deepEqual(got.blank.map((b) => b.replace(/ \(.*$/, '')), ['canvas: one flat colour in the screenshot']);
    await tab.setContent(`<!doctype html><html><head><style>${STYLE} main { height: 300px }</style></head><body><main></main></body></html>`);
    const empty = await lookAtScreenshot(tab, await tab.screenshot({ fullPage: true }));
    assert.match(empty.blank.join('\n'), /^the main region \(main\): one flat colour/);
  });

  await t.test('not blank: text scrolled out of its frame is not counted, what the frame shows is', async () => {
    const got = await look(page('<div style="width: 200px; overflow-x: auto; white-space: nowrap; background: #fff"><table><tbody><tr><td>shown</td><td style="padding-left: 600px">scrolled away</td></tr></tbody></table></div>'));
    assert.deepEqual(got, { blank: [], overlaps: [] });
  });

  await t.test('overlap: two labels placed over each other, and a cell\'s text running into the next', async () => {
    const placed = await look(page('<div style="position: relative; height: 3rem"><span style="position: absolute; left: 0">Throughput now</span><span style="position: absolute; left: 4rem; top: .3rem">queue depth</span></div>'));
    assert.equal(placed.overlaps.length, 1, placed.overlaps.join('\n'));
    assert.match(placed.overlaps[0]!, /^"Throughput now" \(span\) and "queue depth" \(span\) overlap by \d+×\d+ px at/);
    const cells = await look(page('<table style="table-layout: fixed; width: 300px"><tbody><tr><td style="width: 60px; white-space: nowrap">a-very-long-node-name</td><td>online</td></tr></tbody></table>'));
    assert.match(cells.overlaps.join('\n'), /"a-very-long-node-name" \(td\) and "online" \(td\) overlap/);
    assert.deepEqual(cells.blank, []);
  });

  await t.test('overlap: text over a form control', async () => {
    const got = await look(page('<div style="position: relative"><input name="from" value=""><span style="position: absolute; left: 20px; top: 2px">placeholder drawn over</span></div>'));
    assert.match(got.overlaps.join('\n'), /"placeholder drawn over" \(span\) and "<input name=from>"/);
  });

  await t.test('shot() refuses to write a screenshot of a broken page into the docs', async () => {
    // The contrast check comes first; a table under a layer passes it and fails the look at the screenshot.
    await tab.setContent(page(`${TABLE}<div style="position: absolute; left: 0; right: 0; top: 3rem; height: 10rem; background: #f6f8fa"></div>`));
    await assert.rejects(shot(tab, 'page-checks-broken'), /a data region is blank in the screenshot \(.*moat-failed-page-checks-broken\.png\)/);
    assert.equal(existsSync(`${SHOTS}page-checks-broken.png`), false);
  });
});
