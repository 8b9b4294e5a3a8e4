import type { Page } from 'playwright-core';

/** One piece of visible text whose colour is too close to what is behind it. */
export interface UnreadableText {
  readonly text: string;
  readonly where: string;
  readonly color: string;
  readonly background: string;
  readonly ratio: number;
  readonly needed: number;
}

/** The few DOM shapes the check uses (the test project is compiled without the DOM library). */
interface El {
  readonly tagName: string;
  readonly className: unknown;
  readonly parentElement: El | null;
  readonly namespaceURI: string | null;
  closest(selector: string): El | null;
  getAttribute(name: string): string | null;
}
interface TextNode { readonly parentElement: El | null; readonly textContent: string | null }
interface Style { color: string; fill: string; backgroundColor: string; backgroundImage: string; visibility: string; opacity: string; fontSize: string; fontWeight: string }
interface Dom {
  document: {
    body: unknown;
    createTreeWalker(root: unknown, what: number): { nextNode(): TextNode | null };
    createRange(): { selectNodeContents(n: TextNode): void; getBoundingClientRect(): { width: number; height: number } };
  };
  getComputedStyle(e: El): Style;
}

/**
 * Every visible text node of the page whose contrast against its effective background is below
 * WCAG 2 AA (4.5:1; 3:1 for large text: 24 px, or 18.66 px bold), from computed colours: the
 * text colour (or an SVG `fill`) with its alpha, over the ancestors' background colours
 * composited down to the page's. Disabled controls are exempt (WCAG 1.4.3), and so is text in
 * an element with a background image (a gradient or picture: no single colour to measure).
 */
export function unreadableText(page: Page): Promise<UnreadableText[]> {
  // Runs in the page: self-contained, no imports.
  return page.evaluate(() => {
    type Rgba = [number, number, number, number];
    const parse = (c: string): Rgba | null => {
      const m = /^rgba?\(([\d.]+),? ([\d.]+),? ([\d.]+)(?:,? \/?\s*([\d.]+%?))?\)$/.exec(c.trim());
      if (!m) return null;
      const a = m[4] === undefined ? 1 : m[4].endsWith('%') ? Number.parseFloat(m[4]) / 100 : Number(m[4]);
      return [Number(m[1]), Number(m[2]), Number(m[3]), a];
    };
    const over = (top: Rgba, under: Rgba): Rgba => {
      const a = top[3] + under[3] * (1 - top[3]);
      if (a === 0) return [0, 0, 0, 0];
      const mix = (i: number) => (top[i]! * top[3] + under[i]! * under[3] * (1 - top[3])) / a;
      return [mix(0), mix(1), mix(2), a];
    };
    const luminance = ([r, g, b]: Rgba) => {
      const lin = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const dom = globalThis as unknown as Dom;
    const doc = dom.document;
    const css = (e: El) => dom.getComputedStyle(e);
    /** The colour behind an element: its and its ancestors' backgrounds, over white (the canvas). */
    const backgroundOf = (el: El): Rgba | 'image' => {
      const layers: Rgba[] = [];
      for (let e: El | null = el; e; e = e.parentElement) {
        const s = css(e);
        if (s.backgroundImage !== 'none') return 'image';
        const c = parse(s.backgroundColor);
        if (c && c[3] > 0) layers.push(c);
        if (c && c[3] === 1) break;
      }
      return layers.reduceRight<Rgba>((under, top) => over(top, under), [255, 255, 255, 1]);
    };
    const out: UnreadableText[] = [];
    const seen = new Set<El>();
    const walker = doc.createTreeWalker(doc.body, 4 /* NodeFilter.SHOW_TEXT */);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || seen.has(el) || !n.textContent?.trim()) continue;
      if (el.closest('script, style, template, :disabled, [aria-disabled=true]')) continue;
      const range = doc.createRange();
      range.selectNodeContents(n);
      const box = range.getBoundingClientRect();
      const s = css(el);
      if (box.width < 2 || box.height < 2 || s.visibility !== 'visible' || Number(s.opacity) === 0) continue;
      seen.add(el);
      const bg = backgroundOf(el);
      if (bg === 'image') continue;
      const inSvg = el.namespaceURI === 'http://www.w3.org/2000/svg';
      const fg = parse(inSvg ? s.fill : s.color);
      if (!fg) continue;
      const shown = over(fg, bg);
      const [hi, lo] = [luminance(shown), luminance(bg)].sort((a, b) => b - a) as [number, number];
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = Number.parseFloat(s.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
      const needed = large ? 3 : 4.5;
      if (ratio < needed) {
        const cls = typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
        const testid = el.closest('[data-testid]')?.getAttribute('data-testid');
        const where = `${el.tagName.toLowerCase()}${cls}${testid ? ` in [data-testid=${testid}]` : ''}`;
        out.push({ text: (n.textContent ?? '').trim().slice(0, 60), where, color: s.color, background: `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`, ratio: Math.round(ratio * 100) / 100, needed });
      }
    }
    return out;
  });
}
