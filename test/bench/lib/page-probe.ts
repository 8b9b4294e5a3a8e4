/**
 * What the console benchmark runs inside the page (a Playwright init script, so it is there
 * before the console's own code): it wraps `fetch` to count the console's API calls in flight
 * (a call ends when its body has been read), and from then on checks once per animation frame
 * whether the page shows its data: every API call it made has been answered and read, and the
 * page's "ready" selectors match. The moment is taken in a zero-delay timer set from that
 * frame's callback, which runs after the frame's layout and paint. The API answers' times come
 * from the browser's own Resource Timing entries (responseEnd: the last byte of the answer arrived).
 *
 * `installProbe` is serialised into the page (Function.prototype.toString): it may use only
 * its argument and browser globals, declared below because the test project has no DOM types.
 */

/** CSS selectors that must each match at least `min` elements once the page shows its data. */
export interface ReadySpec {
  readonly all: ReadonlyArray<readonly [selector: string, min: number]>;
}

export interface ProbeResult {
  /** performance.now() when measuring began: 0 for a page load (navigation start), else the re-arm. */
  readonly armedAt: number;
  /** The data requests made since then (the sign-in check, /auth/me, left out). */
  readonly calls: number;
  /** Start of the first data request and end of the last answer (Resource Timing responseEnd), ms. */
  readonly firstRequestAt: number;
  readonly lastAnswerAt: number;
  /** After the frame in which every answer had been read and the ready selectors matched, ms. */
  readonly shownAt: number;
  /** The data requests' URLs. */
  readonly urls: readonly string[];
}

interface ResourceEntry {
  readonly name: string;
  readonly initiatorType: string;
  readonly startTime: number;
  readonly responseEnd: number;
}

/** The browser globals the probe uses. */
interface ProbeGlobals {
  fetch: typeof fetch;
  requestAnimationFrame(cb: () => void): number;
  document: { querySelectorAll(selector: string): { length: number } };
  performance: { now(): number; getEntriesByType(type: 'resource'): ResourceEntry[]; setResourceTimingBufferSize(n: number): void };
  setTimeout(cb: () => void, ms: number): number;
  __moatProbe?: { arm(spec: ReadySpec): void; result(): ProbeResult | null };
}

/** Runs in the page. */
export function installProbe(initial: ReadySpec): void {
  const w = globalThis as unknown as ProbeGlobals;
  const API = '/api/v1/';
  const ignored = (url: string) => !url.includes(API) || url.includes('/api/v1/auth/me');
  let spec = initial;
  let armedAt = 0;
  let issued = 0;
  let inflight = 0;
  let result: ProbeResult | null = null;
  w.performance.setResourceTimingBufferSize(10_000);

  const original = w.fetch.bind(w);
  w.fetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (ignored(url)) return original(input, init);
    issued++;
    inflight++;
    let settled = false;
    const settle = () => {
      if (!settled) (settled = true), inflight--;
    };
    try {
      const res = await original(input, init);
      if (res.body === null) settle();
      for (const read of ['text', 'json', 'arrayBuffer', 'blob'] as const) {
        const real = res[read].bind(res) as () => Promise<unknown>;
        Object.defineProperty(res, read, { value: () => real().finally(settle) });
      }
      return res;
    } catch (err) {
      settle();
      throw err;
    }
  };

  const ready = () => spec.all.every(([selector, min]) => w.document.querySelectorAll(selector).length >= min);
  const finish = () => {
    // A request the frame's effects started, or data that went away: not shown yet after all.
    if (inflight > 0 || !ready()) return void w.requestAnimationFrame(frame);
    const shownAt = w.performance.now();
    const answers = w.performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'fetch' && !ignored(e.name) && e.startTime >= armedAt);
    result = {
      armedAt,
      calls: answers.length,
      firstRequestAt: Math.min(...answers.map((e) => e.startTime)),
      lastAnswerAt: Math.max(...answers.map((e) => e.responseEnd)),
      shownAt,
      urls: answers.map((e) => e.name),
    };
  };
  const frame = () => {
    if (result !== null) return;
    if (issued > 0 && inflight === 0 && ready()) {
      // A task queued from the frame's callbacks runs after that frame's layout and paint.
      w.setTimeout(finish, 0);
      return;
    }
    w.requestAnimationFrame(frame);
  };
  w.__moatProbe = {
    arm(next: ReadySpec) {
      spec = next;
      armedAt = w.performance.now();
      issued = 0;
      result = null;
      w.requestAnimationFrame(frame);
    },
    result: () => result,
  };
  w.requestAnimationFrame(frame);
}

/** Runs in the page: the measurement, once the page shows its data (null before). */
export function probeResult(): ProbeResult | null {
  return (globalThis as unknown as ProbeGlobals).__moatProbe?.result() ?? null;
}

/** Runs in the page: measure again from now (before a control the admin changes). */
export function armProbe(spec: ReadySpec): void {
  (globalThis as unknown as ProbeGlobals).__moatProbe!.arm(spec);
}
