/**
 * When a periodic job runs its rounds: at start, then `intervalMs` after each round ends (never
 * two at once), and at once after a nudge (a rules change). A failed round is reported to
 * `onError` and the next one is still scheduled. Once stopped it schedules nothing more. The
 * timer never keeps the process alive. Shared by the retention and quarantine expiry jobs.
 */
export class RoundTimer {
  private timer: NodeJS.Timeout | undefined;
  private readonly round: () => Promise<unknown>;
  private readonly intervalMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(round: () => Promise<unknown>, intervalMs: number, onError: (err: unknown) => void) {
    this.round = round;
    this.intervalMs = intervalMs;
    this.onError = onError;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A round soon, if the timer runs. */
  nudge(): void {
    if (this.timer) this.schedule(0);
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.round()
        .catch(this.onError)
        .finally(() => {
          if (this.timer) this.schedule(this.intervalMs);
        });
    }, delay);
    this.timer.unref();
  }
}
