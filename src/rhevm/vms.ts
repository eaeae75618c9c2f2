/**
 * Virtual machines (ovirt-api.md §7.7): create from a template (Blank by default), change, remove,
 * power, migrate, clone; NICs and disks.
 */
import type { Connection } from './connection.js';
import { diskBody, vmBody, vmNicBody, type DiskBodySpec, type RefSpec, type VmBodySpec, type VmNicSpec, type VmUpdateSpec } from './encode.js';
import { RhevmError } from './errors.js';
import type { ActionResult, Disk, Vm, VmNic } from './model.js';
import { Collection, type Opts } from './resources.js';
import { el, textEl, type XEl } from '../xml/tree.js';

/** The Blank template exists on every engine (§4.4). */
export const BLANK_TEMPLATE: RefSpec = { name: 'Blank' };

export class Vms extends Collection<'vm'> {
  constructor(conn: Connection) {
    super(conn, 'vm', 'vms');
  }

  /**
   * Create a VM. Without disks on the template the engine answers 201 and the VM is `down`; with
   * template disks it answers 202 and the VM is `image_locked` until the copies exist — the
   * connection polls that out, so the VM returned is ready either way (§7.7).
   * `cloneDisks` makes independent disk copies (v4 `?clone=true`, v3 in the body).
   */
  async add(spec: VmBodySpec, opts: Opts = {}): Promise<Vm> {
    const o = this.op(opts);
    const v = await this.version(o);
    const full = { ...spec, template: spec.template ?? BLANK_TEMPLATE };
    return this.addBody(vmBody(v, full), spec.name, o, v === 4 && spec.cloneDisks ? '?clone=true' : '');
  }

  /** Create a VM from a template with its own copies of the template's disks. */
  async cloneFromTemplate(template: RefSpec, spec: Omit<VmBodySpec, 'template' | 'cloneDisks'>, opts: Opts = {}): Promise<Vm> {
    return this.add({ ...spec, template, cloneDisks: true }, opts);
  }

  /** Partial update: only the fields given change (§7.7); `nextRun` for running VMs (v4). */
  async update(id: string, spec: VmUpdateSpec, opts: Opts & { nextRun?: boolean } = {}): Promise<Vm> {
    const o = this.op(opts);
    const v = await this.version(o);
    const q = v === 4 && opts.nextRun ? '?next_run=true' : '';
    return this.conn.putEntity('vm', `vms/${encodeURIComponent(id)}${q}`, vmBody(v, spec), o);
  }

  /** Remove; `detachOnly` keeps the disks (v4 query, v3 body `<vm><disks><detach_only>`, §7.7). */
  override async remove(id: string, opts: Opts & { force?: boolean; detachOnly?: boolean } = {}): Promise<void> {
    const o = this.op(opts);
    const v = await this.version(o);
    const p = `vms/${encodeURIComponent(id)}`;
    if (v === 4) {
      await this.conn.remove(p, o, { query: { force: opts.force ? true : undefined, detach_only: opts.detachOnly ? true : undefined } });
      return;
    }
    if (!opts.force && !opts.detachOnly) return this.conn.remove(p, o);
    const kids: XEl[] = [];
    if (opts.force) kids.push(textEl('force', true));
    if (opts.detachOnly) kids.push(el('vm', {}, [el('disks', {}, [textEl('detach_only', true)])]));
    await this.conn.remove(p, o, { body: el('action', {}, kids) });
  }

  /** Start; `bootDevices` makes it a run-once boot (e.g. `['network']` to PXE-install it), `host` pins it. */
  async start(id: string, opts: Opts & { bootDevices?: string[]; host?: RefSpec; pause?: boolean } = {}): Promise<ActionResult> {
    const vm = opts.bootDevices || opts.host ? { ...(opts.bootDevices && { bootDevices: opts.bootDevices }), ...(opts.host && { host: opts.host }) } : undefined;
    return this.action(id, 'start', vm ? { vm } : {}, this.op(opts));
  }

  async stop(id: string, opts: Opts & { force?: boolean } = {}): Promise<ActionResult> {
    return this.action(id, 'stop', opts.force ? { force: true } : {}, this.op(opts));
  }

  async shutdown(id: string, opts: Opts & { force?: boolean } = {}): Promise<ActionResult> {
    return this.action(id, 'shutdown', opts.force ? { force: true } : {}, this.op(opts));
  }

  async suspend(id: string, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'suspend', {}, this.op(opts));
  }

  async reboot(id: string, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'reboot', {}, this.op(opts));
  }

  /** Migrate to a given host, or let the engine choose when `host` is omitted (§7.7). */
  async migrate(id: string, opts: Opts & { host?: RefSpec; force?: boolean } = {}): Promise<ActionResult> {
    return this.action(id, 'migrate', { ...(opts.host && { host: opts.host }), ...(opts.force && { force: true }) }, this.op(opts));
  }

  /** The v3.5+/v4 `clone` action (VM must be down); 202 polling is done by the connection. */
  async clone(id: string, name: string, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'clone', { vm: { name } }, this.op(opts));
  }

  /** A console ticket (`<ticket><value/><expiry/></ticket>`, §7.7). */
  async ticket(id: string, opts: Opts & { expiry?: number; value?: string } = {}): Promise<ActionResult> {
    const t = { ...(opts.expiry !== undefined && { expiry: opts.expiry }), ...(opts.value !== undefined && { value: opts.value }) };
    return this.action(id, 'ticket', { ticket: t }, this.op(opts));
  }

  nics(vmId: string): Collection<'nic'> {
    return new Collection(this.conn, 'nic', `vms/${encodeURIComponent(vmId)}/nics`);
  }

  async listNics(vmId: string, opts: Opts = {}): Promise<VmNic[]> {
    return this.nics(vmId).list(opts);
  }

  /**
   * Add a NIC. v3 names the network; v4 needs a vNIC profile, so a network given without a
   * profile is resolved to the profile the engine created with it (same name, §7.6).
   */
  async addNic(vmId: string, spec: VmNicSpec, opts: Opts = {}): Promise<VmNic> {
    const o = this.op(opts);
    const v = await this.version(o);
    let s = spec;
    if (v === 4 && !spec.vnicProfile && spec.network) {
      const netId = spec.network.id ?? (await new Collection(this.conn, 'network', 'networks').findByName(spec.network.name ?? '', { op: o }))?.id;
      if (!netId) throw new RhevmError('RB_ERR_RHEVM_STATE', `network ${spec.network.name} not found`, { correlationId: o.correlationId });
      const profiles = await new Collection(this.conn, 'vnic_profile', `networks/${encodeURIComponent(netId)}/vnicprofiles`).list({ op: o });
      const net = await new Collection(this.conn, 'network', 'networks').get(netId, { op: o });
      const profile = profiles.find((p) => p.name === net.name) ?? profiles[0];
      if (!profile) throw new RhevmError('RB_ERR_RHEVM_STATE', `network ${net.name ?? netId} has no vNIC profile`, { correlationId: o.correlationId });
      s = { ...spec, vnicProfile: { id: profile.id } };
    }
    const nics = this.nics(vmId);
    return this.conn.addEntity('nic', nics.path, vmNicBody(v, s), o, () => nics.findByName(spec.name, { op: o }));
  }

  /** Disks: v3 `/vms/{id}/disks`, v4 `/vms/{id}/diskattachments` (§7.7). */
  async listDisks(vmId: string, opts: Opts = {}): Promise<Disk[]> {
    const o = this.op(opts);
    const v = await this.version(o);
    const c = v === 4 ? new Collection(this.conn, 'disk_attachment', `vms/${encodeURIComponent(vmId)}/diskattachments`) : new Collection(this.conn, 'disk', `vms/${encodeURIComponent(vmId)}/disks`);
    return c.list({ op: o });
  }

  async addDisk(vmId: string, spec: DiskBodySpec, opts: Opts = {}): Promise<Disk> {
    const o = this.op(opts);
    const v = await this.version(o);
    const kind = v === 4 ? ('disk_attachment' as const) : ('disk' as const);
    const path = `vms/${encodeURIComponent(vmId)}/${v === 4 ? 'diskattachments' : 'disks'}`;
    const lookup = async () => (spec.name === undefined ? undefined : (await this.listDisks(vmId, { op: o })).find((d) => d.name === spec.name));
    return this.conn.addEntity(kind, path, diskBody(v, spec), o, lookup);
  }
}
