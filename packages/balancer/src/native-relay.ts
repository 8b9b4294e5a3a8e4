import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The native relay (native/relay.c, built by native/build.ts): the bytes of a paired client
 * and upstream moved by a C thread of its own, with no call into JavaScript per read. The
 * proxy hands a session over once the greeting gate is passed (docs/balancer.md, "Relay
 * paths"); this module loads the addon once per process and routes each session's end back
 * to its callback.
 */
export interface NativeRelay {
  /**
   * Relay between two connected sockets (their descriptors; the caller closes its own handles
   * right after), the greeting written to the client first. Returns the session id, or null
   * when the session could not be set up (nothing changed: relay it another way).
   */
  relay(clientFd: number, upstreamFd: number, greeting: Buffer, idleTimeoutMs: number, onDone: () => void): number | null;
  /** Close a session now; its onDone still runs. */
  kill(id: number): void;
}

interface Addon {
  init(onDone: (id: number) => void): void;
  relay(clientFd: number, upstreamFd: number, greeting: Buffer, idleTimeoutMs: number): number;
  kill(id: number): void;
}

export const NATIVE_RELAY_PATH = fileURLToPath(new URL('../native/build/moat_relay.node', import.meta.url));

let loaded: { readonly api: NativeRelay } | { readonly api: null; readonly reason: string } | undefined;

/** The native relay, or why it is not there (not built, or it failed to load). Loaded once. */
export function nativeRelay(): { readonly api: NativeRelay } | { readonly api: null; readonly reason: string } {
  if (loaded) return loaded;
  if (!existsSync(NATIVE_RELAY_PATH)) {
    loaded = { api: null, reason: `${NATIVE_RELAY_PATH} is not built (pnpm run build needs a C compiler)` };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(NATIVE_RELAY_PATH) as Addon;
    const pending = new Map<number, () => void>();
    addon.init((id) => {
      const done = pending.get(id);
      if (!done) return;
      pending.delete(id);
      done();
    });
    loaded = {
      api: {
        relay(clientFd, upstreamFd, greeting, idleTimeoutMs, onDone) {
          let id: number;
          try {
            id = addon.relay(clientFd, upstreamFd, greeting, idleTimeoutMs);
          } catch {
            return null; // refused arguments (a handle without a descriptor): relay it in JavaScript
          }
          if (id === 0) return null;
          // Ends are reported from the relay thread through the event loop, so never before this.
          pending.set(id, onDone);
          return id;
        },
        kill: (id) => addon.kill(id),
      },
    };
  } catch (err) {
    loaded = { api: null, reason: `loading ${NATIVE_RELAY_PATH} failed: ${(err as Error).message}` };
  }
  return loaded;
}
