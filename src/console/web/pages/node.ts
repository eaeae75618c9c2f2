import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components';
import { fmtDuration, fmtTime } from '../format';
import { useGet } from '../hooks';
import { useCoalesced, useLive } from '../live';
import { href } from '../router';
import { installSteps, mergeEvents, phaseOf } from '../timeline';
import type { BootPreview, PreviewFirmware } from '../../../domain/boot';
import type { ApiEvent, ApiHypervisor, ApiNode, ApiNodesetAction, ApiNodesetChange } from '../../../http/api-types';

const FIRMWARES: [PreviewFirmware, string][] = [
  ['bios', 'BIOS PXE'],
  ['uefi', 'UEFI PXE'],
  ['ipxe', 'iPXE'],
  ['uefi-http', 'UEFI HTTP'],
];

/** One node: where its boot stands, what it will be served now, and its host in RHEV-M. */
export function NodePage({ name }: { name: string }) {
  const base = `/nodes/${enc(name)}`;
  const node = useGet<ApiNode>(base);
  // The route's maximum: a node's history is short, and the steps need the latest install.
  const events = useGet<ApiEvent[]>(`${base}/events?limit=10000`);
  const [firmware, setFirmware] = useState<PreviewFirmware>('bios');
  const preview = useGet<BootPreview>(`${base}/boot?firmware=${firmware}`);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: unknown }>({});

  const refresh = useCoalesced<string>(() => {
    node.reload();
    preview.reload();
  });
  useLive((m) => {
    if (m.type === 'reset') return (node.reload(), events.reload(), preview.reload());
    if (m.type !== 'event' || m.event.subjectType !== 'node' || m.event.subject !== name) return;
    events.set((old) => mergeEvents(old ?? [], [m.event]));
    // Contacts change the status (install -> installing), admin moves change what it boots.
    refresh('node');
  });

  const nodeset = async (action: ApiNodesetAction) => {
    setOutcome({});
    try {
      const [r] = await api<ApiNodesetChange[]>('POST', '/nodeset', { range: name, action });
      setOutcome({ ok: `nodeset ${action}: ${r!.from} → ${r!.to}` });
    } catch (err) {
      setOutcome({ error: err });
    }
  };

  if (node.error) return html`<main><p><a href=${href('nodes')}>← Nodes</a></p><${ErrorNote} error=${node.error} /></main>`;
  const n = node.data;
  if (!n) return html`<main><${Loading} what=${`node ${name}`} /></main>`;
  const list = events.data ?? [];
  return html`<main>
    <p><a href=${href('nodes')}>← Nodes</a></p>
    <h1>${n.name} <span id="node-status"><${StatusBadge} status=${n.status} /></span></h1>
    ${n.statusReason ? html`<p class="error">${n.statusReason}</p>` : null}
    <dl class="facts">
      <dt>Boots next</dt><dd>${n.bootAction}</dd>
      <dt>MACs</dt><dd class="mono">${n.nics.map((x) => `${x.mac}${x.install ? ' (install)' : ''}`).join(', ') || '—'}</dd>
      <dt>IP</dt><dd class="mono">${n.ip ?? 'from the pool'}</dd>
      <dt>Distro</dt><dd>${n.distro ? `${n.distro} / ${n.arch}` : '—'}</dd>
      <dt>Engine</dt><dd>${n.manager ?? '—'}${n.cluster ? `, cluster ${n.cluster}` : ''}</dd>
      <dt>Groups</dt><dd>${n.groups.join(', ') || '—'}</dd>
    </dl>
    <div class="actions" role="group" aria-label="Nodeset">
      ${(['install', 'local', 'next'] as const).map((a) => html`<button type="button" onClick=${() => nodeset(a)}>Nodeset ${a}</button>`)}
      ${outcome.ok ? html`<span class="ok" role="status">${outcome.ok}</span>` : null}
    </div>
    <${ErrorNote} error=${outcome.error} />

    <section aria-labelledby="steps-h">
      <h2 id="steps-h">Latest install</h2>
      <${Steps} events=${list} />
    </section>

    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <${ErrorNote} error=${events.error} />
      <${Timeline} events=${list} />
    </section>

    <section aria-labelledby="boot-h">
      <h2 id="boot-h">Boot config now</h2>
      <div role="radiogroup" aria-label="Firmware" class="tabs">
        ${FIRMWARES.map(([fw, label]) => html`<label><input type="radio" name="firmware" value=${fw} checked=${firmware === fw} onChange=${() => setFirmware(fw)} /> ${label}</label>`)}
      </div>
      <${ErrorNote} error=${preview.error} />
      ${preview.data ? html`<${Preview} p=${preview.data} />` : preview.loading ? html`<${Loading} what="boot config" />` : null}
    </section>

    <section aria-labelledby="host-h">
      <h2 id="host-h">RHEV-M host</h2>
      ${n.manager ? html`<${HostState} node=${n.name} engine=${n.manager} status=${n.status} />` : html`<p class="muted">The node names no engine (manager): it is not handed to RHEV-M.</p>`}
    </section>
  </main>`;
}

function Steps({ events }: { events: ApiEvent[] }) {
  const steps = installSteps(events);
  if (!steps.length) return html`<p class="muted">No install yet: nodeset install starts one.</p>`;
  return html`<ol class="steps" id="install-steps">
    ${steps.map(
      (s, i) => html`<li class=${s.event ? 'done' : 'todo'} data-step=${s.label}>
        <span class="step-label">${s.label}</span>
        ${s.event
          ? html`<time datetime=${s.event.at}>${fmtTime(s.event.at)}</time>${s.sinceMs !== undefined ? html`<span class="since">+${fmtDuration(s.sinceMs)}</span>` : null}
              <span class="step-msg">${s.event.message}</span>`
          : // Skipped while later steps happened: e.g. DHCP answered by another server or a relay.
            html`<span class="muted">${steps.slice(i + 1).some((x) => x.event) ? 'not seen' : 'waiting'}</span>`}
      </li>`,
    )}
  </ol>`;
}

function Timeline({ events }: { events: ApiEvent[] }) {
  if (!events.length) return html`<p class="muted">No events.</p>`;
  return html`<table class="grid timeline" id="timeline" aria-label="Timeline">
    <thead><tr><th scope="col">Time</th><th scope="col">+</th><th scope="col">Step</th><th scope="col">What happened</th></tr></thead>
    <tbody>
      ${events.map(
        (e, i) => html`<tr key=${e.id} data-kind=${e.kind}>
          <td><time datetime=${e.at}>${fmtTime(e.at)}</time></td>
          <td class="num">${i ? fmtDuration(new Date(e.at).getTime() - new Date(events[i - 1]!.at).getTime()) : ''}</td>
          <td><span class=${`phase phase-${phaseOf(e).replace(/\W/g, '')}`}>${phaseOf(e)}</span></td>
          <td>${e.message}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function Preview({ p }: { p: BootPreview }) {
  const plan = p.dhcp.plan;
  return html`<div class="preview">
    <h3>DHCP (MAC ${p.mac})</h3>
    <dl class="facts">
      <dt>Address</dt><dd class="mono">${p.dhcp.address}</dd>
      <dt>Action</dt><dd>${plan.action}</dd>
      <dt>Boot file</dt><dd class="mono">${plan.bootFile ?? 'none'}</dd>
      ${plan.config ? html`<dt>Then</dt><dd class="mono">${plan.config.kind} config from ${plan.config.template}</dd>` : null}
      ${plan.distro ? html`<dt>Installs</dt><dd>${plan.distro.name}/${plan.distro.arch} (${plan.distro.family} ${plan.distro.version})</dd>` : null}
      ${plan.cmdline ? html`<dt>Command line</dt><dd class="mono">${plan.cmdline}</dd>` : null}
      <dt>Why</dt><dd>${plan.why.join('; ')}</dd>
    </dl>
    ${p.tftp.map((t) => html`<${ConfigFile} title=${`TFTP ${t.file}`} content=${t.content} why=${t.why} />`)}
    <${ConfigFile} title=${`HTTP ${p.http.url}`} content=${p.http.content} why=${p.http.why} />
  </div>`;
}

function ConfigFile({ title, content, why }: { title: string; content: string | null; why: string[] }) {
  return html`<h3 class="mono">${title}</h3>${content === null ? html`<p class="muted">Not served: ${why.join('; ')}</p>` : html`<pre class="config">${content}</pre>`}`;
}

/** The node's host as its engine sees it: asked live, so an unreachable engine says so here. */
function HostState({ node, engine, status }: { node: string; engine: string; status: string }) {
  const hosts = useGet<ApiHypervisor[]>(`/hypervisors?engine=${enc(engine)}`);
  // Asked again when the node's status moves or the hand-off reports: both change the host.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) return void (first.current = false);
    hosts.reload();
  }, [status]);
  useLive((m) => {
    if (m.type === 'event' && m.event.subject === node && m.event.kind.startsWith('rhevm.')) hosts.reload();
  });
  if (hosts.error) return html`<div><p>Engine <strong>${engine}</strong>: not reachable.</p><${ErrorNote} error=${hosts.error} /></div>`;
  if (!hosts.data) return html`<${Loading} what=${`hosts of ${engine}`} />`;
  const h = hosts.data.find((x) => x.node === node);
  if (!h) return html`<p class="muted">Engine ${engine} has no host for ${node} yet.</p>`;
  return html`<dl class="facts">
    <dt>Host</dt><dd>${h.name} <span class="muted mono">${h.id}</span></dd>
    <dt>State</dt><dd><${StatusBadge} status=${h.status} />${h.statusDetail ? ` (${h.statusDetail})` : ''}</dd>
    <dt>Address</dt><dd class="mono">${h.address ?? '—'}</dd>
  </dl>`;
}
