import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components';
import { useGet } from '../hooks';
import { useCoalesced, useLive } from '../live';
import type { ApiEngine, ApiEngineProbe, ApiHypervisor } from '../../../http/api-types';

/** The RHEV-M engines: reachable or not (asked live), API version, and their hosts by state. */
export function EnginesPage() {
  const engines = useGet<ApiEngine[]>('/engines');
  useLive((m) => {
    if (m.type === 'reset' || (m.type === 'event' && m.event.subjectType === 'engine')) engines.reload();
  });
  return html`<main>
    <h1>Engines</h1>
    <${ErrorNote} error=${engines.error} />
    ${!engines.data
      ? html`<${Loading} what="engines" />`
      : engines.data.length === 0
        ? html`<p class="muted">No engine yet: <code>rhevboot rhevm add NAME --url https://… --user admin@internal</code>.</p>`
        : html`<div class="cards">${engines.data.map((e) => html`<${EngineCard} key=${e.name} engine=${e} onChanged=${engines.reload} />`)}</div>`}
  </main>`;
}

function EngineCard({ engine, onChanged }: { engine: ApiEngine; onChanged: () => void }) {
  // Listing the hosts logs in to the engine: it is the reachability check, and the counts.
  const hosts = useGet<ApiHypervisor[]>(`/hypervisors?engine=${enc(engine.name)}`);
  const [test, setTest] = useState<{ busy?: boolean; ok?: string; error?: unknown }>({});
  const recheck = useCoalesced<string>(() => hosts.reload(), 1000);
  useLive((m) => {
    if (m.type === 'event' && m.event.kind.startsWith('rhevm.host')) recheck('hosts');
  });

  const runTest = async () => {
    setTest({ busy: true });
    try {
      const api_ = await api<ApiEngineProbe>('POST', `/engines/${enc(engine.name)}/test`);
      setTest({ ok: `logged in: API v${api_.version} at ${api_.path}${api_.productVersion ? `, ${api_.productName ?? 'engine'} ${api_.productVersion}` : ''}` });
      onChanged();
      hosts.reload();
    } catch (err) {
      setTest({ error: err });
    }
  };

  const counts = new Map<string, number>();
  for (const h of hosts.data ?? []) counts.set(h.status ?? 'unknown', (counts.get(h.status ?? 'unknown') ?? 0) + 1);
  const reach = hosts.error ? 'unreachable' : hosts.data ? 'reachable' : 'checking';
  return html`<article class="card" aria-labelledby=${`engine-${engine.name}`} data-engine=${engine.name}>
    <h2 id=${`engine-${engine.name}`}>${engine.name} <${StatusBadge} status=${reach} /></h2>
    <dl class="facts">
      <dt>URL</dt><dd class="mono">${engine.url}</dd>
      <dt>User</dt><dd>${engine.username}</dd>
      <dt>CA</dt><dd>${engine.caPinned ? html`pinned <code class="hash">${engine.caFingerprint}</code>` : engine.url.startsWith('http:') ? 'plain http (lab)' : 'not pinned'}</dd>
      <dt>API</dt><dd>${engine.apiVersion ?? 'not detected yet'}</dd>
      <dt>Hosts</dt>
      <dd>
        ${hosts.loading && !hosts.data ? html`<${Loading} what="hosts" />` : null}
        ${hosts.data
          ? hosts.data.length
            ? html`<ul class="counts">${[...counts].map(([s, n]) => html`<li><${StatusBadge} status=${s} /> ${n}</li>`)}</ul>`
            : html`<span class="muted">none</span>`
          : null}
      </dd>
    </dl>
    <${ErrorNote} error=${hosts.error} />
    <div class="actions">
      <button type="button" onClick=${() => hosts.reload()}>Check again</button>
      <button type="button" onClick=${runTest} disabled=${test.busy}>${test.busy ? 'Testing…' : 'Test login'}</button>
      ${test.ok ? html`<span class="ok" role="status">${test.ok}</span>` : null}
    </div>
    <${ErrorNote} error=${test.error} />
  </article>`;
}
