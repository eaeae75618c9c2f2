import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote } from '../components';
import { useGet } from '../hooks';
import type { ApiDistro, ApiEngine, ApiNodesAdded } from '../../../http/api-types';

interface Fields {
  name: string;
  mac: string;
  ip: string;
  distro: string;
  manager: string;
  groups: string;
}
const EMPTY: Fields = { name: '', mac: '', ip: '', distro: '', manager: '', groups: '' };

/**
 * One node by hand (files of thousands go through `rhevboot node import`). The API checks every
 * field; its per-field errors are shown next to the form as they come.
 */
export function AddNodeForm({ onAdded }: { onAdded: () => void }) {
  const [f, setF] = useState<Fields>(EMPTY);
  const [error, setError] = useState<unknown>(undefined);
  const [added, setAdded] = useState('');
  const distros = useGet<ApiDistro[]>('/distros');
  const engines = useGet<ApiEngine[]>('/engines');
  const field = (k: keyof Fields) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setError(undefined);
    setAdded('');
    const node: Record<string, unknown> = { name: f.name.trim() };
    const macs = f.mac.split(/[\s,]+/).filter(Boolean);
    if (macs.length) node.macs = macs;
    if (f.ip.trim()) node.ip = f.ip.trim();
    if (f.distro) node.distro = f.distro;
    if (f.manager) node.manager = f.manager;
    const groups = f.groups.split(/[\s,]+/).filter(Boolean);
    if (groups.length) node.groups = groups;
    try {
      const res = await api<ApiNodesAdded>('POST', '/nodes', { nodes: [node] });
      setAdded(`added ${res.added.join(', ')}`);
      setF(EMPTY);
      onAdded();
    } catch (err) {
      setError(err);
    }
  };

  const distroNames = [...new Set((distros.data ?? []).map((d) => d.name))];
  return html`<details class="add">
    <summary>Add a node</summary>
    <form onSubmit=${submit} aria-label="Add a node">
      <label>Name <input name="name" required value=${f.name} onInput=${field('name')} /></label>
      <label>MAC(s) <input name="mac" value=${f.mac} placeholder="52:54:00:12:34:56" onInput=${field('mac')} /></label>
      <label>IP <input name="ip" value=${f.ip} placeholder="from the pool" onInput=${field('ip')} /></label>
      <label>Distro
        <select name="distro" value=${f.distro} onChange=${field('distro')}>
          <option value="">none</option>
          ${distroNames.map((d) => html`<option value=${d}>${d}</option>`)}
        </select>
      </label>
      <label>Engine
        <select name="manager" value=${f.manager} onChange=${field('manager')}>
          <option value="">none</option>
          ${(engines.data ?? []).map((e) => html`<option value=${e.name}>${e.name}</option>`)}
        </select>
      </label>
      <label>Groups <input name="groups" value=${f.groups} placeholder="rack1, compute" onInput=${field('groups')} /></label>
      <button type="submit">Add node</button>
      ${added ? html`<span class="ok" role="status">${added}</span>` : null}
    </form>
    <${ErrorNote} error=${error} />
  </details>`;
}
