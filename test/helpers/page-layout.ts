import type { Page } from 'playwright-core';

/** What a look at a page's screenshot found wrong; empty lists when nothing. */
export interface LayoutProblems {
  /** Data regions (the main region, its tables, charts, lists, frames) drawn as one flat colour. */
  readonly blank: string[];
  /** Pieces of text (or form controls) drawn over each other. */
  readonly overlaps: string[];
}

/**
 * Look at a full-page screenshot of `page` (as `page.screenshot({ fullPage: true })` returns it)
 * with the page's own layout beside it, measurably:
 *
 * - **blank**: the page's main region (`main`, else `body`) and each data region in it (a table,
 *   canvas, `pre`, `dl`, list or frame) must show something. A region with text is blank when none
 *   of its text shows ink in the screenshot (a pixel off the box's dominant colour), whatever the
 *   computed colours say: text under an opaque layer, clipped away, or the colour of its
 *   background; a region without text (a chart's canvas, a frame) when under 0.1 % of its pixels
 *   differ from its dominant colour.
 * - **overlaps**: every visible piece of text (each line box of each text node, cut to what its
 *   scrolling or clipping ancestors show) and each form control; two of them from different
 *   elements that intersect by more than 2×3 px overlap. Nesting is no overlap: an element's
 *   text and its child's text are separate line boxes, which meet only when one is drawn over
 *   the other.
 *
 * Chromium decodes the PNG (createImageBitmap, in the page: a Blob is no fetch, so the page's CSP
 * does not apply); full-page screenshot pixels are document coordinates at scale 1.
 */
export function lookAtScreenshot(page: Page, png: Buffer): Promise<LayoutProblems> {
  // Runs in the page: self-contained. The test project has no DOM library, hence `any` here.
  return page.evaluate(async (b64: string) => {
    const w = globalThis as any;
    const doc = w.document;
    const bin = w.atob(b64) as string;
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const bitmap = await w.createImageBitmap(new w.Blob([bytes], { type: 'image/png' }));
    const canvas = new w.OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    const W = bitmap.width as number;
    const H = bitmap.height as number;
    const px = ctx.getImageData(0, 0, W, H).data as Uint8ClampedArray;
    const sx = w.scrollX as number;
    const sy = w.scrollY as number;

    interface Box { l: number; t: number; r: number; b: number }
    const cut = (a: Box, b: Box): Box => ({ l: Math.max(a.l, b.l), t: Math.max(a.t, b.t), r: Math.min(a.r, b.r), b: Math.min(a.b, b.b) });
    const empty = (a: Box) => a.r - a.l < 1 || a.b - a.t < 1;
    /** A viewport rect cut to what the element's clipping ancestors (overflow other than visible) show. */
    const visiblePart = (rect: Box, el: any): Box => {
      let box = rect;
      for (let e = el; e && e !== doc.documentElement; e = e.parentElement) {
        const s = w.getComputedStyle(e);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const r = e.getBoundingClientRect();
        const inner = { l: r.left + e.clientLeft, t: r.top + e.clientTop, r: r.left + e.clientLeft + e.clientWidth, b: r.top + e.clientTop + e.clientHeight };
        box = cut(box, { l: s.overflowX === 'visible' ? -Infinity : inner.l, t: s.overflowY === 'visible' ? -Infinity : inner.t, r: s.overflowX === 'visible' ? Infinity : inner.r, b: s.overflowY === 'visible' ? Infinity : inner.b });
      }
      return box;
    };
    // Rendered at all: not display:none, visibility hidden, opacity 0, nor in a closed <details> (content-visibility).
    const shown = (el: any): boolean => el.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true });
    /** Pixels of the screenshot within a viewport box: off its dominant colour by more than 60 (sum over R, G, B), and all. */
    const ink = (box: Box): { ink: number; all: number } => {
      const l = Math.max(0, Math.floor(box.l + sx));
      const t = Math.max(0, Math.floor(box.t + sy));
      const r = Math.min(W, Math.ceil(box.r + sx));
      const b = Math.min(H, Math.ceil(box.b + sy));
      if (r <= l || b <= t) return { ink: 0, all: 0 };
      const step = (r - l) * (b - t) > 400_000 ? 3 : 1; // a sample of a big region is enough to find its colours
      const counts = new Map<number, number>();
      for (let y = t; y < b; y += step) for (let x = l; x < r; x += step) {
        const i = (y * W + x) * 4;
        const k = (px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      let top = 0;
      let most = -1;
      for (const [k, n] of counts) if (n > most) [top, most] = [k, n];
      const [R, G, B] = [(top >> 16) & 255, (top >> 8) & 255, top & 255];
      let off = 0;
      let all = 0;
      for (const [k, n] of counts) {
        all += n;
        if (Math.abs(((k >> 16) & 255) - R) + Math.abs(((k >> 8) & 255) - G) + Math.abs((k & 255) - B) > 60) off += n;
      }
      return { ink: off, all };
    };
    const describe = (el: any): string => {
      const cls = typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const testid = el.closest('[data-testid]')?.getAttribute('data-testid');
      return `${el.tagName.toLowerCase()}${cls}${testid ? ` in [data-testid=${testid}]` : ''}`;
    };

    // Every visible piece of text: one box per line of each text node, cut to what is shown.
    interface Piece { node: any; el: any; text: string; box: Box }
    const pieces: Piece[] = [];
    const walker = doc.createTreeWalker(doc.body, 4 /* NodeFilter.SHOW_TEXT */);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      const text = (n.textContent ?? '').trim();
      if (!el || !text || el.closest('script, style, template, noscript, select, textarea') || !shown(el)) continue;
      const range = doc.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) {
        const box = visiblePart({ l: r.left, t: r.top, r: r.right, b: r.bottom }, el);
        if (box.r - box.l >= 2 && box.b - box.t >= 4) pieces.push({ node: n, el, text: text.slice(0, 40), box });
      }
    }
    const controls: Piece[] = [...doc.querySelectorAll('input:not([type=hidden]), select, textarea, meter, progress')]
      .filter((el: any) => shown(el))
      .map((el: any) => {
        const r = el.getBoundingClientRect();
        return { node: el, el, text: `<${el.tagName.toLowerCase()}${el.name ? ` name=${el.name}` : ''}>`, box: visiblePart({ l: r.left, t: r.top, r: r.right, b: r.bottom }, el.parentElement) };
      })
      .filter((p: Piece) => !empty(p.box));

    const blank: string[] = [];
    const main = doc.querySelector('main') ?? doc.body;
    const regions = [main, ...main.querySelectorAll('table, canvas, pre, dl, ul, ol, iframe')].filter((el: any) => shown(el));
    for (const region of regions) {
      const r = region.getBoundingClientRect();
      const box = visiblePart({ l: r.left, t: r.top, r: r.right, b: r.bottom }, region.parentElement);
      if (box.r - box.l < 4 || box.b - box.t < 4) continue;
      const inside = pieces.filter((p) => region.contains(p.node));
      const name = region === main ? `the main region (${describe(region)})` : describe(region);
      if (inside.length > 0) {
        if (!inside.some((p) => ink(p.box).ink >= 2)) blank.push(`${name}: none of its ${inside.length} pieces of text shows in the screenshot (first: "${inside[0]!.text}")`);
      } else {
        const seen = ink(box);
        if (seen.ink < Math.max(1, seen.all * 0.001)) blank.push(`${name}: one flat colour in the screenshot (${seen.ink} of ${seen.all} pixels differ)`);
      }
    }

    const overlaps: string[] = [];
    const all = [...pieces, ...controls];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!;
        const b = all[j]!;
        if (a.el === b.el) continue; // one element's own text flows, it does not overlap itself
        const x = cut(a.box, b.box);
        if (x.r - x.l > 2 && x.b - x.t > 3) {
          overlaps.push(`"${a.text}" (${describe(a.el)}) and "${b.text}" (${describe(b.el)}) overlap by ${Math.round(x.r - x.l)}×${Math.round(x.b - x.t)} px at (${Math.round(x.l + sx)}, ${Math.round(x.t + sy)})`);
        }
      }
    }
    return { blank, overlaps };
  }, png.toString('base64'));
}
