/**
 * CSV for report downloads: RFC 4180 (CRLF line ends; a field with a comma, quote or line
 * break is quoted, quotes doubled) and safe to open in a spreadsheet: a text cell starting with
 * = + - @ (or a tab / carriage return, which some spreadsheets skip before one) would run as a
 * formula, so it gets a leading apostrophe (OWASP "CSV injection"). Numbers are left alone:
 * -3 is a number, not a formula. Mail data is attacker-controlled (a sender can choose a
 * subject of `=HYPERLINK(…)`), so this is not optional.
 */
export function toCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[]): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
