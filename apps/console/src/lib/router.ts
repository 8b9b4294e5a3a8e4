import { useEffect, useState } from 'preact/hooks';

/** Routes live in the URL fragment (`#/quarantine/ID`), so the master serves one page. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('?')[0]!.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => setParts(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parts;
}

export const go = (path: string): void => {
  location.hash = `#/${path}`;
};

/** The search a page keeps in its URL (`#/messages?from=…&to=…`), so a search can be reloaded and shared. */
export function useHashQuery(): Record<string, string> {
  const read = () => Object.fromEntries(new URLSearchParams(location.hash.split('?')[1] ?? ''));
  const [q, setQ] = useState(read);
  useEffect(() => {
    const on = () => setQ(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return q;
}
