/**
 * The V8 heap of a child process, measured from outside through its inspector (the child runs
 * with `--inspect=127.0.0.1:0`, which prints its WebSocket address on stderr): a forced full
 * garbage collection (`HeapProfiler.collectGarbage`), then `process.memoryUsage()`. RSS alone
 * cannot tell a leak from a heap still growing into its limits; the heap that survives a full
 * collection can.
 */
export interface HeapAfterGc {
  /** heapUsed + arrayBuffers after a full collection, MiB. */
  readonly liveMib: number;
  readonly heapTotalMib: number;
  readonly externalMib: number;
  readonly rssMib: number;
}

const DEBUGGER_LINE = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/;

/** The inspector's WebSocket address in a child's stderr, if it printed one. */
export function inspectorUrl(stderr: string): string | undefined {
  return DEBUGGER_LINE.exec(stderr)?.[1];
}

/** Collect garbage in the process behind `url` and read its memory; one short-lived session. */
export async function heapAfterGc(url: string, timeoutMs = 30_000): Promise<HeapAfterGc> {
  const ws = new WebSocket(url);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id!);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  const failAll = (err: Error) => { for (const p of pending.values()) p.reject(err); pending.clear(); };
  ws.addEventListener('close', () => failAll(new Error('inspector closed')));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`inspector ${url}: cannot connect`)), { once: true });
  });
  const call = (method: string, params: Record<string, unknown> = {}) => new Promise<unknown>((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
  const timer = setTimeout(() => { failAll(new Error(`inspector ${url}: no answer in ${timeoutMs} ms`)); ws.close(); }, timeoutMs);
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const result = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }) as { result: { value: string } };
    const m = JSON.parse(result.result.value) as NodeJS.MemoryUsage;
    const mib = (n: number) => n / 1024 / 1024;
    return { liveMib: mib(m.heapUsed + m.arrayBuffers), heapTotalMib: mib(m.heapTotal), externalMib: mib(m.external), rssMib: mib(m.rss) };
  } finally {
    clearTimeout(timer);
    ws.close();
  }
}

/** Write a V8 heap snapshot of the process behind `url` to `file` (for Chrome DevTools' Memory tab, comparison view). */
export async function heapSnapshot(url: string, file: string, timeoutMs = 300_000): Promise<void> {
  const { createWriteStream } = await import('node:fs');
  const out = createWriteStream(file);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`inspector ${url}: cannot connect`)), { once: true });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector ${url}: snapshot not done in ${timeoutMs} ms`)), timeoutMs);
      ws.addEventListener('message', (ev) => {
        const msg = JSON.parse(String(ev.data)) as { id?: number; method?: string; params?: { chunk: string }; error?: { message: string } };
        if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') out.write(msg.params!.chunk);
        else if (msg.id === 1) {
          clearTimeout(timer);
          if (msg.error) reject(new Error(msg.error.message));
          else resolve();
        }
      });
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.takeHeapSnapshot', params: { reportProgress: false } }));
    });
  } finally {
    ws.close();
    await new Promise<void>((resolve) => out.end(resolve));
  }
}
