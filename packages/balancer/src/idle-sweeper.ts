/**
 * Idle time-outs for relayed sessions without a timer per socket: `socket.setTimeout`
 * re-arms a timer on every read and write, which showed in the proxy's CPU profile. Instead a
 * session sets `active` on traffic, and one sweep every quarter of the time-out cuts those
 * that stayed quiet for the whole time-out. A session is therefore cut between idleTimeoutMs
 * and 1.25 × idleTimeoutMs after its last byte. The timer runs only while sessions exist.
 */
export interface IdleSession {
  /** Set on traffic; the sweep clears it. */
  active: boolean;
  /** Quiet time accumulated by sweeps. */
  quietMs: number;
  readonly kill: () => void;
}

export interface IdleSweeper {
  add(kill: () => void): IdleSession;
  remove(s: IdleSession): void;
  size(): number;
  /** Run every session's kill (the proxy closing). */
  killAll(): void;
  close(): void;
}

export function createIdleSweeper(idleTimeoutMs: number): IdleSweeper {
  const every = Math.max(5, Math.floor(idleTimeoutMs / 4));
  const sessions = new Set<IdleSession>();
  let timer: NodeJS.Timeout | null = null;

  const sweep = () => {
    for (const s of sessions) {
      if (s.active) {
        s.active = false;
        s.quietMs = 0;
        continue;
      }
      s.quietMs += every;
      if (s.quietMs >= idleTimeoutMs) {
        sessions.delete(s);
        s.kill();
      }
    }
    if (sessions.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };

  return {
    add(kill) {
      const s: IdleSession = { active: true, quietMs: 0, kill };
      sessions.add(s);
      if (!timer) {
        timer = setInterval(sweep, every);
        timer.unref();
      }
      return s;
    },
    remove(s) {
      sessions.delete(s);
    },
    size: () => sessions.size,
    killAll() {
      for (const s of [...sessions]) s.kill();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      sessions.clear();
    },
  };
}
