/**
 * Last-resort clean-up: every daemon and temp folder the benchmark creates registers a
 * synchronous undo here. The normal path stops things gracefully and unregisters; whatever
 * is still registered when the process exits (error, time-out, Ctrl-C) is undone at exit.
 */
type Undo = () => void;

const undos = new Map<number, { label: string; undo: Undo }>();
let nextId = 1;
let installed = false;

function runAll(): void {
  // Newest first: a daemon is stopped before the folder it lives in is removed.
  const entries = [...undos.entries()].reverse();
  undos.clear();
  for (const [, { label, undo }] of entries) {
    try {
      undo();
    } catch (err) {
      process.stderr.write(`clean-up of ${label} failed: ${(err as Error).message}\n`);
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping benchmark daemons...\n`);
      runAll();
      process.exit(130);
    });
  }
}

/** Registers a synchronous undo; returns the function that unregisters it. */
export function onCleanup(label: string, undo: Undo): () => void {
  install();
  const id = nextId++;
  undos.set(id, { label, undo });
  return () => {
    undos.delete(id);
  };
}

export function cleanupNow(): void {
  runAll();
}
