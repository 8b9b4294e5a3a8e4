import type { CompiledAttachmentPolicy } from './compile.ts';
import type { AttachmentFact, Reason } from './facts.ts';
import { clip } from './text.ts';

/**
 * Extensions a recipient reads as harmless. `invoice.pdf.exe` shown by a client that hides
 * known extensions looks like `invoice.pdf`: the reason names that trick explicitly.
 */
const DOCUMENT_LIKE = new Set([
  'pdf', 'doc', 'docx', 'docm', 'xls', 'xlsx', 'xlsm', 'ppt', 'pptx', 'rtf', 'txt', 'csv', 'odt', 'ods', 'odp',
  'htm', 'html', 'xml', 'jpg', 'jpeg', 'png', 'gif', 'bmp', 'tif', 'tiff', 'mp3', 'mp4', 'wav', 'zip', 'rar', '7z',
]);

/** The attachment-policy stage: at most one reason per attachment, the most specific one. */
export function attachmentReasons(policy: CompiledAttachmentPolicy, attachments: readonly AttachmentFact[]): Reason[] {
  const reasons: Reason[] = [];
  for (const attachment of attachments) {
    const reason = attachmentReason(policy, attachment);
    if (reason !== undefined) reasons.push({ kind: 'attachment', action: policy.action, ...reason });
  }
  return reasons;
}

function attachmentReason(policy: CompiledAttachmentPolicy, attachment: AttachmentFact): { rule: string; match: string } | undefined {
  const byName = nameRule(policy, attachment.filename);
  if (byName !== undefined) return { rule: byName, match: clip(attachment.filename) };
  const mime = attachment.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (policy.blockedMimeTypes.has(mime)) return { rule: 'attachments.blockedMimeTypes', match: clip(`${attachment.filename} (${mime})`) };
  const detected = detectedTypeReason(policy, attachment, mime);
  if (detected !== undefined) return detected;
  if (!policy.scanArchives) return undefined;
  for (const entry of attachment.archiveEntries ?? []) {
    if (nameRule(policy, entry) !== undefined) return { rule: 'attachments.scanArchives', match: clip(`${attachment.filename}: ${entry}`) };
  }
  return undefined;
}

/**
 * What the content shows beats what the sender declared: an executable named `invoice.pdf` and
 * sent as `application/pdf` is blocked when its detected type is a blocked type or its detected
 * type's usual extension a blocked extension.
 */
function detectedTypeReason(policy: CompiledAttachmentPolicy, attachment: AttachmentFact, declared: string): { rule: string; match: string } | undefined {
  const type = typeof attachment.detectedType === 'string' ? attachment.detectedType.toLowerCase() : '';
  const ext = typeof attachment.detectedExtension === 'string' ? attachment.detectedExtension.toLowerCase() : '';
  if (!policy.blockedMimeTypes.has(type) && !policy.blockedExtensions.has(ext)) return undefined;
  const name = attachment.filename || '(no name)';
  return { rule: 'attachments.detectedType', match: clip(`${name}: declared ${declared || 'no type'}, detected ${type || ext}${ext ? ` (.${ext})` : ''}`) };
}

/** Which name rule a file name breaks, if any. */
export function nameRule(policy: CompiledAttachmentPolicy, filename: string): string | undefined {
  const parts = extensionsOf(filename);
  const last = parts[parts.length - 1];
  if (last === undefined || !policy.blockedExtensions.has(last)) return undefined;
  const disguised = parts.slice(0, -1).some((ext) => DOCUMENT_LIKE.has(ext));
  return policy.blockDoubleExtensions && disguised ? 'attachments.blockDoubleExtensions' : 'attachments.blockedExtensions';
}

/**
 * The lower-cased extensions of a file name, without the base name. Paths (archive entries,
 * odd clients) are cut to the base name; trailing dots and spaces are dropped because Windows
 * drops them too, so `evil.exe.` and `evil.exe ` run as `evil.exe`.
 */
export function extensionsOf(filename: string): string[] {
  const base = filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
  const parts = base.replace(/[.\s]+$/, '').toLowerCase().split('.');
  return parts.slice(1).map((part) => part.trim());
}
