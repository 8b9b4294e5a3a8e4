/**
 * Characters that change how text around them is shown without being seen themselves: the
 * bidirectional overrides, embeddings and isolates (U+202A–U+202E, U+2066–U+2069), the
 * direction marks (U+200E, U+200F, U+061C), zero-width characters and other format controls.
 * A right-to-left override turns `invoice\u202Efdp.exe` into what reads as `invoiceexe.pdf`:
 * an attachment name or a reason that carries one is shown with the character escaped, e.g.
 * `invoice⟨U+202E⟩fdp.exe`, so the console never lies about an extension.
 */
const HIDDEN = /[\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

export function visibleText(text: string): string {
  return text.replace(HIDDEN, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`);
}
