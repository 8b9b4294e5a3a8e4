import { useCallback, useEffect, useState } from 'preact/hooks';
import { describe } from './api.ts';

/** Load data, optionally every `refreshMs`; returns it with the last error and a reload. */
export function useData<T>(load: () => Promise<T>, deps: unknown[], refreshMs?: number) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const reload = useCallback(() => load().then((d) => (setData(d), setError('')), (e) => setError(describe(e))), deps);
  useEffect(() => {
    reload();
    if (refreshMs === undefined) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [reload]);
  return { data, error, reload };
}
