import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What Node's HTTP parser refuses before fastify sees a request (headers over the size limit,
 * a request that is not HTTP, a client time-out) still gets the API's `{ error, code }` shape,
 * like fastify's default handler but with Moat's codes. Found by fuzzing
 * (test/fuzz/api.test.ts): a 70 KB query string got `{ error, message, statusCode }`.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'MOAT_ERR_HEADERS_TOO_LARGE']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'MOAT_ERR_REQUEST_TIMEOUT']
      : [400, 'MOAT_ERR_BAD_REQUEST'];
  const body = JSON.stringify({ error: STATUS_CODES[status], code });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
