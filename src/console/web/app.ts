import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { AUTH_EVENT, session } from './api';
import { live, useLiveState } from './live';
import { DistrosPage } from './pages/distros';
import { EnginesPage } from './pages/engines';
import { LoginPage } from './pages/login';
import { NodePage } from './pages/node';
import { NodesPage } from './pages/nodes';
import { href, useRoute } from './router';

const LIVE_LABEL = { off: 'offline', connecting: 'connecting…', live: 'live', retrying: 'reconnecting…' } as const;

function useToken(): string | null {
  const [token, setToken] = useState(session.token());
  useEffect(() => {
    const on = () => setToken(session.token());
    window.addEventListener(AUTH_EVENT, on);
    return () => window.removeEventListener(AUTH_EVENT, on);
  }, []);
  return token;
}

export function App() {
  const token = useToken();
  const route = useRoute();
  const liveState = useLiveState();

  // One stream per tab, while logged in.
  useEffect(() => {
    if (!token) return void live.stop();
    live.start();
  }, [token]);

  if (!token) return html`<${LoginPage} expired=${session.expired} />`;

  const [page = 'nodes', arg] = route;
  const nav = (to: string, label: string) => html`<a href=${href(to)} aria-current=${page === to ? 'page' : undefined}>${label}</a>`;
  let body;
  if (page === 'nodes' && arg) body = html`<${NodePage} key=${arg} name=${arg} />`;
  else if (page === 'distros') body = html`<${DistrosPage} />`;
  else if (page === 'engines') body = html`<${EnginesPage} />`;
  else body = html`<${NodesPage} />`;

  return html`<div class="shell">
    <header>
      <a class="brand" href=${href('nodes')}>rhevboot</a>
      <nav aria-label="Main">${nav('nodes', 'Nodes')}${nav('distros', 'Distros')}${nav('engines', 'Engines')}</nav>
      <span class=${`live live-${liveState}`} role="status" aria-live="polite" id="live-state">${LIVE_LABEL[liveState]}</span>
      <button type="button" class="link" onClick=${() => session.logout()}>Log out</button>
    </header>
    ${body}
  </div>`;
}
