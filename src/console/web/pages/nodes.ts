import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components';
import { fmtAgo, fmtTime } from '../format';
import { useGet, useNow } from '../hooks';
import { useCoalesced, useLive } from '../live';
import { href } from '../router';
import { NODE_STATUSES } from '../../../domain/node';
import { CONTACT_KINDS, NODESET_ACTIONS, type ApiGroup, type ApiLastContact, type ApiNode, type ApiNodesetAction, type ApiNodesetChange } from '../../../http/api-types';
import { AddNodeForm } from './node-add';

/** Above this many changed nodes in one burst, reloading the list is cheaper than naming them. */
const REFRESH_BY_NAME_MAX = 50;

/** The estate at a glance: every node, filtered, with bulk nodeset; kept current by the stream. */
export function NodesPage() {
  const [rangeInput, setRangeInput] = useState('');
  const [range, setRange] = useState('');
  const [group, setGroup] = useState('');
  const [status, setStatus] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<ApiNodesetAction>('install');
  const [outcome, setOutcome] = useState<{ ok?: string; error?: unknown }>({});
  const now = useNow(5000);

  const nodes = useGet<ApiNode[]>(`/nodes${range ? `?range=${enc(range)}` : ''}`);
  const groups = useGet<ApiGroup[]>('/groups');
  const contacts = useGet<ApiLastContact>('/last-contact');

  const refresh = useCoalesced<string>(async (names) => {
    if (names.has('*') || names.size > REFRESH_BY_NAME_MAX) return nodes.reload();
    try {
      const fresh = await api<ApiNode[]>('GET', `/nodes?range=${enc([...names].join(','))}`);
      nodes.set((old) => old?.map((n) => fresh.find((f) => f.name === n.name) ?? n));
    } catch {
      nodes.reload(); // a node in the burst was removed meanwhile: the range no longer resolves
    }
  });
  useLive((m) => {
    if (m.type === 'reset') return (nodes.reload(), contacts.reload());
    if (m.type !== 'event' || m.event.subjectType !== 'node') return;
    const e = m.event;
    if (CONTACT_KINDS.includes(e.kind)) contacts.set((old) => ({ ...old, [e.subject]: { at: e.at, kind: e.kind, message: e.message } }));
    if (e.kind === 'node.added' || e.kind === 'node.removed') refresh('*');
    else if (nodes.data?.some((n) => n.name === e.subject)) refresh(e.subject);
  });

  const shown = useMemo(
    () => (nodes.data ?? []).filter((n) => (!group || n.groups.includes(group)) && (!status || n.status === status)),
    [nodes.data, group, status],
  );
  const selectedShown = shown.filter((n) => selected.has(n.name));
  const allSelected = shown.length > 0 && selectedShown.length === shown.length;

  const toggle = (name: string) =>
    setSelected((old) => {
      const next = new Set(old);
      if (!next.delete(name)) next.add(name);
      return next;
    });
  const toggleAll = () => setSelected(allSelected ? new Set() : new Set(shown.map((n) => n.name)));

  const nodeset = async (ev: Event) => {
    ev.preventDefault();
    const names = selectedShown.map((n) => n.name);
    if (!names.length) return;
    setOutcome({});
    try {
      const res = await api<ApiNodesetChange[]>('POST', '/nodeset', { range: names.join(','), action });
      setOutcome({ ok: `nodeset ${action}: ${res.map((r) => `${r.name} ${r.from} → ${r.to}`).join(', ')}` });
      refresh('*');
    } catch (err) {
      setOutcome({ error: err });
    }
  };

  return html`<main>
    <h1>Nodes</h1>
    <form class="filters" role="search" onSubmit=${(e: Event) => (e.preventDefault(), setRange(rangeInput.trim()), setSelected(new Set()))}>
      <label>Noderange <input name="range" value=${rangeInput} placeholder="e.g. rack1,n[01-20]" onInput=${(e: Event) => setRangeInput((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Filter</button>
      <label>Group
        <select name="group" value=${group} onChange=${(e: Event) => setGroup((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${(groups.data ?? []).map((g) => html`<option value=${g.name}>${g.name} (${g.members.length})</option>`)}
        </select>
      </label>
      <label>Status
        <select name="status" value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${NODE_STATUSES.map((s) => html`<option value=${s}>${s.replace(/_/g, ' ')}</option>`)}
        </select>
      </label>
    </form>

    <form class="bulk" onSubmit=${nodeset} aria-label="Bulk nodeset">
      <span>${selectedShown.length} of ${shown.length} selected</span>
      <label>Boot next
        <select name="action" value=${action} onChange=${(e: Event) => setAction((e.target as HTMLSelectElement).value as ApiNodesetAction)}>
          ${NODESET_ACTIONS.map((a) => html`<option value=${a}>${a}</option>`)}
        </select>
      </label>
      <button type="submit" disabled=${!selectedShown.length}>Nodeset</button>
      ${outcome.ok ? html`<span class="ok" role="status">${outcome.ok}</span>` : null}
    </form>
    <${ErrorNote} error=${outcome.error} />

    <${ErrorNote} error=${nodes.error} />
    ${nodes.data === undefined && nodes.loading
      ? html`<${Loading} what="nodes" />`
      : html`<table class="grid" aria-label="Nodes">
          <thead>
            <tr>
              <th scope="col"><input type="checkbox" aria-label="Select all shown nodes" checked=${allSelected} onChange=${toggleAll} /></th>
              <th scope="col">Name</th><th scope="col">MACs</th><th scope="col">IP</th><th scope="col">Status</th>
              <th scope="col">Boot</th><th scope="col">Distro</th><th scope="col">Engine</th><th scope="col">Last contact</th>
            </tr>
          </thead>
          <tbody>
            ${shown.map((n) => {
              const c = contacts.data?.[n.name];
              return html`<tr key=${n.name} data-node=${n.name}>
                <td><input type="checkbox" aria-label=${`Select ${n.name}`} checked=${selected.has(n.name)} onChange=${() => toggle(n.name)} /></td>
                <th scope="row"><a href=${href('nodes', n.name)}>${n.name}</a></th>
                <td class="mono">${n.nics.map((x) => html`<div>${x.mac}</div>`)}</td>
                <td class="mono">${n.ip ?? '—'}</td>
                <td class="status"><${StatusBadge} status=${n.status} />${n.statusReason ? html` <span class="muted">${n.statusReason}</span>` : null}</td>
                <td>${n.bootAction}</td>
                <td>${n.distro ?? '—'}</td>
                <td>${n.manager ?? '—'}</td>
                <td title=${c ? `${fmtTime(c.at)}: ${c.message}` : ''}>${c ? fmtAgo(c.at, now) : 'never'}</td>
              </tr>`;
            })}
          </tbody>
        </table>
        ${shown.length === 0 ? html`<p class="muted">No nodes${range || group || status ? ' match these filters' : ' yet: add one below, or import a file with rhevboot node import'}.</p>` : null}`}

    <${AddNodeForm} onAdded=${() => refresh('*')} />
  </main>`;
}
