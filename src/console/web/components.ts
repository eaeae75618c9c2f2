import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { ApiError } from './api';

/** An error as the API gave it: message first, the stable code for searching the docs and logs. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as Error;
  const code = e instanceof ApiError ? e.code : undefined;
  const rows = e instanceof ApiError && Array.isArray(e.details?.errors) ? (e.details.errors as { field?: string; message?: string; name?: string }[]) : [];
  return html`<div class="error" role="alert">
    <strong>${e.message}</strong>${code ? html` <code>${code}</code>` : null}
    ${rows.length ? html`<ul>${rows.map((r) => html`<li>${r.field ? html`<code>${r.field}</code>: ` : null}${r.message}</li>`)}</ul>` : null}
  </div>`;
}

/** Node and host states, coloured by meaning (and always with the word: colour is not the message). */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? 'unknown';
  const tone =
    s === 'up' || s === 'booted' || s === 'reachable' || s === 'succeeded' ? 'ok' : s === 'failed' || s.includes('fail') || s === 'non_responsive' || s === 'unreachable' ? 'bad' : s === 'defined' || s === 'local' ? 'idle' : 'busy';
  return html`<span class=${`badge badge-${tone}`}>${s.replace(/_/g, ' ')}</span>`;
}

export function Loading({ what }: { what: string }) {
  return html`<p class="muted" aria-busy="true">Loading ${what}…</p>`;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return html`<section aria-labelledby=${id}><h2 id=${id}>${title}</h2>${children}</section>`;
}
