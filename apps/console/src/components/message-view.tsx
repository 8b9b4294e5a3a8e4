import { bytes } from '../lib/format.ts';
import type { ParsedMessage } from '../lib/mime.ts';
import { sanitizeHtml } from '../lib/sanitize.ts';
import { visibleText } from '../lib/visible-text.ts';

/** Headers worth a first look; the rest are behind "all headers". */
const SHOWN = ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to'];

/**
 * The safe viewer of a message's content (a quarantined one, a retained copy): headers, the
 * attachment list, the text part as text, the HTML part sanitised in a sandboxed frame.
 */
export function MessageView({ msg }: { msg: ParsedMessage }) {
  return (
    <div class="message">
      <h2>Headers</h2>
      <dl class="facts">{msg.headers.filter(([k]) => SHOWN.includes(k.toLowerCase())).map(([k, v]) => <><dt>{k}</dt><dd>{v}</dd></>)}</dl>
      <details>
        <summary>All headers</summary>
        <pre>{msg.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}</pre>
      </details>
      {msg.attachments.length > 0 && (
        <>
          <h2>Attachments</h2>
          <ul>{msg.attachments.map((a) => <li data-testid="attachment">{a.filename === undefined ? '(unnamed)' : visibleText(a.filename)} — {visibleText(a.type)}, {bytes(a.size)}</li>)}</ul>
        </>
      )}
      {msg.text !== undefined && (
        <>
          <h2>Text</h2>
          <pre class="body" data-testid="text-part">{msg.text}</pre>
        </>
      )}
      {msg.html !== undefined && (
        <>
          <h2>HTML (sanitised, no scripts, no remote content)</h2>
          {/* No allow-scripts, no allow-same-origin: the frame is a unique origin that cannot run code. */}
          <iframe class="html-part" title="HTML part" sandbox="" referrerpolicy="no-referrer" srcdoc={sanitizeHtml(msg.html)} data-testid="html-part" />
        </>
      )}
    </div>
  );
}
