import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components';
import { fmtBytes, fmtDuration, fmtTime } from '../format';
import { useGet } from '../hooks';
import { useLive } from '../live';
import type { ApiDistro, ApiImportDone, ApiImportStarted, ApiJobUpdate } from '../../../http/api-types';

/** Imported ISOs with their checksums, imports in progress (live), and a way to start one. */
export function DistrosPage() {
  const distros = useGet<ApiDistro[]>('/distros');
  // Read as the stream updates them, so a listed job and a live one are the same shape.
  const jobs = useGet<ApiJobUpdate[]>('/jobs?kind=copycds&limit=10');

  useLive((m) => {
    if (m.type === 'reset') return (distros.reload(), jobs.reload());
    if (m.type === 'job' && m.job.kind === 'copycds') {
      const j = m.job;
      jobs.set((old) => (old?.some((x) => x.id === j.id) ? old.map((x) => (x.id === j.id ? { ...x, ...j } : x)) : [j, ...(old ?? [])]));
    }
    if (m.type === 'event' && m.event.subjectType === 'distro') distros.reload();
  });

  const running = (jobs.data ?? []).filter((j) => j.state === 'running' || j.state === 'queued');
  const recent = (jobs.data ?? []).filter((j) => j.state !== 'running' && j.state !== 'queued').slice(0, 5);
  return html`<main>
    <h1>Distros</h1>
    <section aria-labelledby="imports-h">
      <h2 id="imports-h">Imports</h2>
      <${ErrorNote} error=${jobs.error} />
      ${running.length ? running.map((j) => html`<${ImportProgress} job=${j} />`) : html`<p class="muted">No import running.</p>`}
      ${recent.length
        ? html`<ul class="recent">${recent.map((j) => html`<li><${StatusBadge} status=${j.state} /> ${j.subject} <span class="muted">${fmtTime(j.updatedAt)}</span>${j.error ? html` — ${j.error.message}` : null}</li>`)}</ul>`
        : null}
      <${ImportForm} onStarted=${() => jobs.reload()} />
    </section>
    <section aria-labelledby="distros-h">
      <h2 id="distros-h">Imported</h2>
      <${ErrorNote} error=${distros.error} />
      ${!distros.data
        ? html`<${Loading} what="distros" />`
        : distros.data.length === 0
          ? html`<p class="muted">No distro imported yet.</p>`
          : html`<table class="grid" aria-label="Distros">
              <thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">ISO</th><th scope="col">ISO SHA-256</th><th scope="col">PXE initrd SHA-256</th><th scope="col">Tree</th><th scope="col">Imported</th></tr></thead>
              <tbody>
                ${distros.data.map(
                  (d) => html`<tr key=${`${d.name}/${d.arch}`}>
                    <th scope="row">${d.name} <span class="muted">${d.arch}</span></th>
                    <td>${d.family} ${d.version}<div class="muted">${d.volumeId}</div></td>
                    <td class="mono">${d.sourcePath}<div class="muted">${fmtBytes(d.isoBytes)}</div></td>
                    <td><code class="hash">${d.isoSha256}</code></td>
                    <td><code class="hash">${d.pxeInitrdSha256}</code></td>
                    <td>${d.fileCount} files, ${fmtBytes(d.bytes)}</td>
                    <td>${fmtTime(d.importedAt)}<div class="muted">in ${fmtDuration(d.durationMs)}</div></td>
                  </tr>`,
                )}
              </tbody>
            </table>`}
    </section>
  </main>`;
}

function ImportProgress({ job }: { job: ApiJobUpdate }) {
  const { phase, done, total } = job.progress;
  const pct = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : undefined;
  const label = `Import of ${job.subject}: ${phase}`;
  // <progress> is accessible as is (a progressbar with its value) and needs no inline style.
  return html`<div class="import" data-job=${job.id}>
    <label>${label}${pct !== undefined ? ` ${pct}%` : ''}
      <progress max=${total > 0 ? total : undefined} value=${total > 0 ? done : undefined} aria-label=${label}></progress>
    </label>
    <span class="muted">${phase === 'register' ? '' : `${fmtBytes(done)} of ${fmtBytes(total)}`}</span>
  </div>`;
}

function ImportForm({ onStarted }: { onStarted: () => void }) {
  const [iso, setIso] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [ok, setOk] = useState('');
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setError(undefined);
    setOk('');
    try {
      const res = await api<ApiImportStarted | ApiImportDone>('POST', '/distros', { iso: iso.trim(), ...(name.trim() ? { name: name.trim() } : {}) });
      setOk('jobId' in res ? `import of ${res.distro} started` : `nothing to do: ${res.status}`);
      onStarted();
    } catch (err) {
      setError(err);
    }
  };
  return html`<details class="add">
    <summary>Import an ISO</summary>
    <form onSubmit=${submit} aria-label="Import an ISO">
      <label>ISO path on the appliance <input name="iso" required value=${iso} placeholder="/srv/iso/rhevh-6.5.iso" onInput=${(e: Event) => setIso((e.target as HTMLInputElement).value)} /></label>
      <label>Name <input name="name" value=${name} placeholder="from the ISO" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Import</button>
      ${ok ? html`<span class="ok" role="status">${ok}</span>` : null}
    </form>
    <${ErrorNote} error=${error} />
  </details>`;
}
