import type { ComponentChildren } from 'preact';

/**
 * A labelled input with its error from the API next to it: the message is tied to the input
 * with `aria-describedby`, and the input is marked `aria-invalid`.
 */
export function Field({ label, name, error, children, form }: { label: string; name: string; error: string | undefined; children: (a11y: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ComponentChildren; form: string }) {
  const id = `${form}-${name}`;
  const errId = `${id}-error`;
  return (
    <label for={id}>
      {label}
      {children({ id, 'aria-invalid': Boolean(error), ...(error ? { 'aria-describedby': errId } : {}) })}
      {error && <span class="field-error" id={errId} data-field-error={name}>{error}</span>}
    </label>
  );
}
