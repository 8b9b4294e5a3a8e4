/**
 * Strip what could act from a message's HTML before it goes into the sandboxed frame: script
 * and other active elements, event-handler attributes, `javascript:` and remote URLs. This is
 * the first of three walls: the frame's `sandbox` (no allow-scripts, no allow-same-origin) and
 * the console's CSP (inherited by the `srcdoc` frame) stop scripts and remote loads even if
 * something slips past here. DOMParser builds an inert document: nothing in it runs or loads.
 */
const DROP = 'script, iframe, frame, frameset, object, embed, applet, link, meta, base, form, input, button, textarea, select, style, svg, math, template, noscript';
const URL_ATTRS = ['src', 'href', 'action', 'formaction', 'background', 'poster', 'srcset', 'xlink:href', 'data'];

export function sanitizeHtml(html: string): string {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  for (const el of Array.from(doc.querySelectorAll(DROP))) el.remove();
  for (const el of Array.from(doc.querySelectorAll('*'))) {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on') || name === 'style') el.removeAttribute(attr.name);
      else if (URL_ATTRS.includes(name)) {
        const v = attr.value.trim().toLowerCase();
        // Links may stay (they open nowhere from the sandbox); anything loaded goes, except data: images.
        const keep = name === 'href' ? /^(https?:|mailto:|#)/.test(v) : name === 'src' && el.tagName === 'IMG' && v.startsWith('data:image/');
        if (!keep) el.removeAttribute(attr.name);
      }
    }
  }
  return `<!doctype html><meta charset="utf-8">${doc.body.innerHTML}`;
}
