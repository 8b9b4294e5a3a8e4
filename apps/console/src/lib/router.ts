import { useEffect, useState } from 'preact/hooks';

/** Routes live in the URL fragment (`#/quarantine/ID`), so the master serves one page. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
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
