import type { Database } from 'better-sqlite3';
import type { NodeNic, NodeRecord } from '../../domain/node.js';
import type { NodeRepository } from '../store.js';

type Row = Record<string, unknown>;

function fromRow(r: Row, nics: NodeNic[]): NodeRecord {
  return {
    name: r.name as string,
    nics,
    ip: (r.ip as string | null) ?? null,
    groups: JSON.parse(r.groups as string) as string[],
    distro: (r.distro as string | null) ?? null,
    arch: r.arch as string,
    hypervisor: r.hypervisor as string,
    manager: (r.manager as string | null) ?? null,
    cluster: (r.cluster as string | null) ?? null,
    storageInit: (r.storage_init as string | null) ?? null,
    kernelArgs: r.kernel_args as string,
    attrs: JSON.parse(r.attrs as string) as Record<string, string>,
    bootAction: r.boot_action as NodeRecord['bootAction'],
    status: r.status as NodeRecord['status'],
    statusReason: (r.status_reason as string | null) ?? null,
    triggerToken: (r.trigger_token as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export function sqliteNodes(db: Database): NodeRepository {
  const get = db.prepare('SELECT * FROM nodes WHERE name = ?');
  const byMac = db.prepare('SELECT n.* FROM nodes n JOIN node_nics m ON m.node = n.name WHERE m.mac = ?');
  const byIp = db.prepare('SELECT * FROM nodes WHERE ip = ?');
  const list = db.prepare('SELECT * FROM nodes');
  const nicsOf = db.prepare('SELECT mac, install FROM node_nics WHERE node = ? ORDER BY position');
  const allNics = db.prepare('SELECT node, mac, install FROM node_nics ORDER BY node, position');
  const upsert = db.prepare(`
    INSERT INTO nodes (name, ip, groups, distro, arch, hypervisor, manager, cluster, storage_init, kernel_args, attrs,
      boot_action, status, status_reason, trigger_token, created_at, updated_at)
    VALUES (@name, @ip, @groups, @distro, @arch, @hypervisor, @manager, @cluster, @storageInit, @kernelArgs, @attrs,
      @bootAction, @status, @statusReason, @triggerToken, @createdAt, @updatedAt)
    ON CONFLICT (name) DO UPDATE SET ip = excluded.ip, groups = excluded.groups, distro = excluded.distro,
      arch = excluded.arch, hypervisor = excluded.hypervisor, manager = excluded.manager, cluster = excluded.cluster,
      storage_init = excluded.storage_init, kernel_args = excluded.kernel_args, attrs = excluded.attrs,
      boot_action = excluded.boot_action, status = excluded.status, status_reason = excluded.status_reason,
      trigger_token = excluded.trigger_token, updated_at = excluded.updated_at`);
  const clearNics = db.prepare('DELETE FROM node_nics WHERE node = ?');
  const addNic = db.prepare('INSERT INTO node_nics (mac, node, install, position) VALUES (?, ?, ?, ?)');
  const remove = db.prepare('DELETE FROM nodes WHERE name = ?');
  const macHolder = db.prepare('SELECT node FROM node_nics WHERE mac = ?');
  const reservations = db.prepare('SELECT n.ip AS ip, m.mac AS mac FROM nodes n JOIN node_nics m ON m.node = n.name WHERE n.ip IS NOT NULL');
  const ipHolder = db.prepare('SELECT name FROM nodes WHERE ip = ?');

  const withNics = (row: Row | undefined): NodeRecord | undefined =>
    row ? fromRow(row, (nicsOf.all(row.name) as Row[]).map((n) => ({ mac: n.mac as string, install: n.install === 1 }))) : undefined;

  const putMany = db.transaction((nodes: NodeRecord[]) => {
    for (const n of nodes) {
      upsert.run({ ...n, groups: JSON.stringify(n.groups), attrs: JSON.stringify(n.attrs) });
      clearNics.run(n.name);
      n.nics.forEach((nic, i) => addNic.run(nic.mac, n.name, nic.install ? 1 : 0, i));
    }
  });
  const removeMany = db.transaction((names: string[]) => names.reduce((sum, n) => sum + remove.run(n).changes, 0));

  return {
    async get(name) {
      return withNics(get.get(name) as Row | undefined);
    },
    async byMac(mac) {
      return withNics(byMac.get(mac) as Row | undefined);
    },
    async byIp(ip) {
      return withNics(byIp.get(ip) as Row | undefined);
    },
    async list() {
      const nics = new Map<string, NodeNic[]>();
      for (const n of allNics.all() as Row[]) {
        const list = nics.get(n.node as string) ?? [];
        list.push({ mac: n.mac as string, install: n.install === 1 });
        nics.set(n.node as string, list);
      }
      return (list.all() as Row[]).map((r) => fromRow(r, nics.get(r.name as string) ?? []));
    },
    async putMany(nodes) {
      putMany(nodes);
    },
    async remove(names) {
      return removeMany(names);
    },
    async reservations() {
      const out = new Map<string, string[]>();
      for (const r of reservations.all() as Row[]) out.set(r.ip as string, [...(out.get(r.ip as string) ?? []), r.mac as string]);
      return out;
    },
    async holders(q) {
      const macs = new Map<string, string>();
      const ips = new Map<string, string>();
      for (const m of q.macs) {
        const r = macHolder.get(m) as Row | undefined;
        if (r) macs.set(m, r.node as string);
      }
      for (const ip of q.ips) {
        const r = ipHolder.get(ip) as Row | undefined;
        if (r) ips.set(ip, r.name as string);
      }
      return { macs, ips };
    },
  };
}
