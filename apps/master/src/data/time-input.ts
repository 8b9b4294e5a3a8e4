/**
 * Times in queries: epoch milliseconds (`1717171717000`) or ISO 8601 (`2024-06-01`,
 * `2024-06-01T12:00:00Z`, `2024-06-01T14:00+02:00`). An ISO time without a zone is UTC, so a
 * query means the same on every server.
 */
export const TIME_INPUT_PATTERN = '^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?)$';
const PATTERN = new RegExp(TIME_INPUT_PATTERN);

/** Epoch ms, or undefined when the text is not a time (wrong shape or an impossible date). */
export function parseTimeInput(text: string): number | undefined {
  if (!PATTERN.test(text)) return undefined;
  if (/^[0-9]+$/.test(text)) return Number(text);
  let iso = text.replace(' ', 'T');
  if (iso.includes('T') && !/(Z|[+-][0-9]{2}:?[0-9]{2})$/.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2024-02-31 over to March; refuse dates that do not exist.
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y!, m! - 1, d!));
  if (day.getUTCMonth() !== m! - 1 || day.getUTCDate() !== d!) return undefined;
  return ms;
}
