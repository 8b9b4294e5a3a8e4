/**
 * "Release and allow sender" / "Block sender": a sender address put into the rules' global
 * `senderAllow` or `senderBlock` list (taken out of the other one, where it would contradict).
 * Pure: the page stores the result as a new rules version from the version it read.
 */
export type SenderList = 'senderAllow' | 'senderBlock';

export interface SenderListChange {
  /** The rules document to store (the input untouched when nothing changed). */
  readonly doc: Record<string, unknown>;
  /** Whether the lists differ from before. */
  readonly changed: boolean;
  /** The address as listed (lower-case). */
  readonly entry: string;
}

export function putSender(doc: Record<string, unknown>, list: SenderList, address: string): SenderListChange {
  const entry = address.trim().toLowerCase();
  const other: SenderList = list === 'senderAllow' ? 'senderBlock' : 'senderAllow';
  const lists = (doc.lists ?? {}) as Record<string, unknown>;
  const current = (key: SenderList): string[] => (Array.isArray(lists[key]) ? (lists[key] as unknown[]).filter((e): e is string => typeof e === 'string') : []);
  const into = current(list);
  const from = current(other);
  const add = !into.some((e) => e.toLowerCase() === entry);
  const keep = from.filter((e) => e.toLowerCase() !== entry);
  if (!add && keep.length === from.length) return { doc, changed: false, entry };
  return {
    doc: { ...doc, lists: { ...lists, [list]: add ? [...into, entry] : into, [other]: keep } },
    changed: true,
    entry,
  };
}
