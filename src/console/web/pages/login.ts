import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { ApiError, session } from '../api';
import { ErrorNote } from '../components';

/**
 * Log in by pasting an API token. It is checked against /api/v1/version before it is kept, so a
 * typo is told at once rather than as a page full of 401s.
 */
export function LoginPage({ expired }: { expired: boolean }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    const t = token.trim();
    if (!t) return setError(new Error('paste an API token first'));
    setBusy(true);
    setError(undefined);
    try {
      const res = await fetch('/api/v1/version', { headers: { authorization: `Bearer ${t}` }, cache: 'no-store' });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
        throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? `HTTP ${res.status}`);
      }
      session.login(t);
      if (!location.hash || location.hash === '#/' || location.hash.startsWith('#/login')) location.hash = '#/nodes';
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<main class="login">
    <h1>rhevboot</h1>
    <form onSubmit=${submit} aria-describedby="login-help">
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck=${false} value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} autofocus />
      <button type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Log in'}</button>
      ${expired ? html`<p class="note" role="status">The token was refused (revoked or expired): log in again.</p>` : null}
      <${ErrorNote} error=${error} />
      <p id="login-help" class="muted">
        The first token is in <code>admin.token</code> in the appliance's state directory; make more with${' '}
        <code>rhevboot token create NAME</code>. It is kept for this tab only.
      </p>
    </form>
  </main>`;
}
