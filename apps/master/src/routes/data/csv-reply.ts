import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';

export const FormatSchema = Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], {
  default: 'json', description: '`csv` downloads the rows as a CSV file (RFC 4180; cells that a spreadsheet would run as formulas are prefixed with an apostrophe).',
}));

/** The 200 answer of a report: JSON by default, or the CSV download. For the OpenAPI document. */
export function reportResponse<T extends Parameters<typeof Type.Object>[0]>(json: ReturnType<typeof Type.Object<T>>) {
  return {
    description: 'The report as JSON, or as a CSV file with `format=csv`.',
    content: {
      'application/json': { schema: json },
      'text/csv': { schema: Type.String({ description: 'A header line, then one line per row.' }) },
    },
  };
}

/** Send CSV text as a download. The name is built from fixed words and dates only, never from input. */
export function sendCsv(reply: FastifyReply, csv: string, filename: string): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('x-content-type-options', 'nosniff')
    .send(csv);
}

/** `2025-01-06T00:00:00.000Z` → `20250106T0000Z`, for file names. */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 13) + 'Z';
}
