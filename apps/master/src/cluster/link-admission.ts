import type { WebSocket } from 'ws';

/**
 * Sockets on `/cluster` that have not said hello yet are anyone's: before this, any number
 * could be opened and each could send a 4 MiB frame before proving anything. Now:
 * - at most MAX_PENDING_LINKS of them at once, and MAX_PENDING_PER_ADDRESS from one client
 *   address (a reconnecting cluster needs a few; a flood from one host cannot starve the
 *   others); past that the socket is refused at once (`MOAT_ERR_LINK_BUSY`), and every pending
 *   socket still goes after the hello time-out;
 * - until the hello, a frame may be at most PRE_HELLO_MAX_BYTES (a hello is well under 1 KiB);
 *   the socket's limit goes up to MAX_FRAME_BYTES only once the node proved who it is.
 */
export const MAX_PENDING_LINKS = 256;
export const MAX_PENDING_PER_ADDRESS = 32;
export const PRE_HELLO_MAX_BYTES = 4096;

export type Admission = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly message: string };

export function createLinkAdmission(limits: { total?: number; perAddress?: number } = {}) {
  const total = limits.total ?? MAX_PENDING_LINKS;
  const perAddress = limits.perAddress ?? MAX_PENDING_PER_ADDRESS;
  const byAddress = new Map<string, number>();
  let pending = 0;
  return {
    /** A new socket: admitted (call `release` once it said hello or closed, once) or refused. */
    admit(address: string): Admission {
      const mine = byAddress.get(address) ?? 0;
      if (pending >= total) return { ok: false, message: `too many cluster links waiting for their hello (${total}); try again later` };
      if (mine >= perAddress) return { ok: false, message: `too many cluster links from ${address} waiting for their hello (${perAddress}); try again later` };
      pending++;
      byAddress.set(address, mine + 1);
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          pending--;
          const left = (byAddress.get(address) ?? 1) - 1;
          if (left > 0) byAddress.set(address, left);
          else byAddress.delete(address);
        },
      };
    },
    pending: () => pending,
  };
}
export type LinkAdmission = ReturnType<typeof createLinkAdmission>;

/**
 * Set the largest frame this socket accepts from now on. ws checks each frame's declared
 * length against its receiver's `_maxPayload` when the header arrives, so a frame over it is
 * refused (close 1009) before its payload is buffered; ws has no public per-socket setter.
 * Returns false when that field is not there (another ws): the caller's own length check of
 * each message then still refuses it, after ws buffered it.
 */
export function limitFrameSize(ws: WebSocket, bytes: number): boolean {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = bytes;
  return true;
}
