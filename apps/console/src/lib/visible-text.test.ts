import { test } from 'node:test';
import assert from 'node:assert/strict';
import { visibleText } from './visible-text.ts';

// Security review (issue 18): a right-to-left override in an attachment name spoofed its extension.
test('bidi overrides, isolates, marks and zero-width characters are shown escaped; other text is untouched', () => {
  const table: [string, string][] = [
    ['invoice\u202Efdp.exe', 'invoice⟨U+202E⟩fdp.exe'],
    ['a\u202Db\u202Ac\u202Bd\u202Ce', 'a⟨U+202D⟩b⟨U+202A⟩c⟨U+202B⟩d⟨U+202C⟩e'],
    ['x\u2066y\u2067z\u2068w\u2069', 'x⟨U+2066⟩y⟨U+2067⟩z⟨U+2068⟩w⟨U+2069⟩'],
    ['mark\u200E\u200F\u061C', 'mark⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩'],
    ['zero\u200Bwidth\uFEFF', 'zero⟨U+200B⟩width⟨U+FEFF⟩'],
    ['bell\u0007', 'bell⟨U+0007⟩'],
    ['Rapport annuel – été 2024.pdf', 'Rapport annuel – été 2024.pdf'],
    ['تقرير.pdf', 'تقرير.pdf'],
    ['报告.docx', '报告.docx'],
  ];
  for (const [given, shown] of table) assert.equal(visibleText(given), shown, JSON.stringify(given));
});
