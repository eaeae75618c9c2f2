/**
 * Hosts (ovirt-api.md §7.4, §8): find a self-registered RHEV-H host, approve it into a cluster or
 * add it by address with a root password, drive its state, power management and networks.
 */
import type { Connection } from './connection.js';
import {
  hostBody,
  hostNicUpdateBody,
  hostUpdateBody,
  type HostSpec,
  type HostUpdateSpec,
  type IpSpec,
  type PowerManagementSpec,
  type RefSpec,
  type SetupNetworksSpec,
} from './encode.js';
import { RhevmError } from './errors.js';
import type { ActionResult, Host, HostNic, NetworkAttachment } from './model.js';
import { Collection, type Opts } from './resources.js';

export interface AttachNetworkSpec {
  /** Host NIC name, e.g. eth1 or bond0 */
  nic: string;
  network: RefSpec;
  /** static | dhcp | none */
  bootProtocol?: string;
  ip?: IpSpec;
}

export class Hosts extends Collection<'host'> {
  constructor(conn: Connection) {
    super(conn, 'host', 'hosts');
  }

  /**
   * A host by name. With `prefix`, `name=<name>*` is searched and a host named `<name>` or
   * `<name>.<domain>` accepted — a RHEV-H node registers under its FQDN while the appliance knows
   * its short name (xCAT did the same, xcat-rhev.md §4.2).
   */
  async findByHostName(name: string, opts: Opts & { prefix?: boolean } = {}): Promise<Host | undefined> {
    if (!opts.prefix) return this.findByName(name, opts);
    const hosts = await this.list({ ...opts, search: { name: `${name}*` } });
    const lc = name.toLowerCase();
    return hosts.find((h) => h.name?.toLowerCase() === lc) ?? hosts.find((h) => h.name?.toLowerCase().startsWith(`${lc}.`));
  }

  async findByAddress(address: string, opts: Opts = {}): Promise<Host | undefined> {
    const hosts = await this.list({ ...opts, search: { address } });
    return hosts.find((h) => h.address?.toLowerCase() === address.toLowerCase());
  }

  /** Add a host by address with its root password; the engine installs it at once (§7.4, §8.4). */
  async add(spec: HostSpec, opts: Opts = {}): Promise<Host> {
    const o = this.op(opts);
    return this.addBody(hostBody(await this.version(o), spec), spec.name, o);
  }

  async update(id: string, spec: HostUpdateSpec, opts: Opts = {}): Promise<Host> {
    const o = this.op(opts);
    return this.conn.putEntity('host', `hosts/${encodeURIComponent(id)}`, hostUpdateBody(await this.version(o), spec), o);
  }

  /** Approve a pending host into a cluster (`<action><cluster id/></action>`, §7.4). */
  async approve(id: string, p: { cluster: RefSpec; rootPassword?: string }, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'approve', { cluster: p.cluster, ...(p.rootPassword !== undefined && { rootPassword: p.rootPassword }) }, this.op(opts));
  }

  /** Re-install (maintenance/install_failed/non_operational only); `image` for RHEV-H 3.x upgrades. */
  async install(id: string, p: { rootPassword?: string; image?: string } = {}, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'install', { ...p }, this.op(opts));
  }

  async activate(id: string, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'activate', {}, this.op(opts));
  }

  async deactivate(id: string, opts: Opts & { reason?: string } = {}): Promise<ActionResult> {
    return this.action(id, 'deactivate', opts.reason !== undefined ? { reason: opts.reason } : {}, this.op(opts));
  }

  /** Fence through power management; `status` returns the power state in `powerStatus`. */
  async fence(id: string, type: 'start' | 'stop' | 'restart' | 'status' | 'manual', opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'fence', { fenceType: type }, this.op(opts));
  }

  /** Configure power management (IPMI) on the host: `PUT /hosts/{id}` with `<power_management>`. */
  async setPowerManagement(id: string, pm: PowerManagementSpec, opts: Opts = {}): Promise<Host> {
    return this.update(id, { powerManagement: pm }, opts);
  }

  nics(hostId: string): Collection<'host_nic'> {
    return new Collection(this.conn, 'host_nic', `hosts/${encodeURIComponent(hostId)}/nics`);
  }

  async listNics(hostId: string, opts: Opts = {}): Promise<HostNic[]> {
    return this.nics(hostId).list(opts);
  }

  async updateNic(hostId: string, nicId: string, p: { bootProtocol?: string; ip?: IpSpec }, opts: Opts = {}): Promise<HostNic> {
    const o = this.op(opts);
    return this.conn.putEntity('host_nic', `hosts/${encodeURIComponent(hostId)}/nics/${encodeURIComponent(nicId)}`, hostNicUpdateBody(await this.version(o), p), o);
  }

  /** v4 / 3.6: `POST /hosts/{id}/setupnetworks` with network attachments (§7.4). */
  async setupNetworks(id: string, spec: SetupNetworksSpec, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'setupnetworks', { setupNetworks: spec }, this.op(opts));
  }

  /** Persist the host's network configuration (`POST /hosts/{id}/commitnetconfig`). */
  async commitNetConfig(id: string, opts: Opts = {}): Promise<ActionResult> {
    return this.action(id, 'commitnetconfig', {}, this.op(opts));
  }

  /** v4 / 3.6+: the host's network attachments (§7.4); v3 engines have no such collection. */
  networkAttachments(hostId: string): Collection<'network_attachment'> {
    return new Collection(this.conn, 'network_attachment', `hosts/${encodeURIComponent(hostId)}/networkattachments`);
  }

  /**
   * Which logical network sits on which NIC, in either dialect: v4 lists network attachments,
   * v3 names the network on the NIC itself (§7.4). Used to check that an attach really took.
   */
  async nicNetworks(id: string, opts: Opts = {}): Promise<{ nic: HostNic; networkId: string; attachment?: NetworkAttachment }[]> {
    const o = this.op(opts);
    const nics = await this.listNics(id, { op: o });
    if ((await this.version(o)) === 3) {
      return nics.filter((n) => n.network?.id !== undefined).map((n) => ({ nic: n, networkId: n.network!.id! }));
    }
    const out: { nic: HostNic; networkId: string; attachment?: NetworkAttachment }[] = [];
    for (const a of await this.networkAttachments(id).list({ op: o })) {
      const nic = nics.find((n) => n.id === a.hostNic?.id || (a.hostNic?.name !== undefined && n.name === a.hostNic.name));
      if (nic && a.network?.id) out.push({ nic, networkId: a.network.id, attachment: a });
    }
    return out;
  }

  /**
   * Take a logical network off the host and persist that: v4 removes its network attachment with
   * `setupnetworks`, v3 detaches it from its NIC (`nics/{nic}/detach`). Returns false, sending
   * nothing, when the network is not on the host.
   */
  async detachNetwork(id: string, networkId: string, opts: Opts = {}): Promise<boolean> {
    const o = this.op(opts);
    const on = (await this.nicNetworks(id, { op: o })).find((x) => x.networkId === networkId);
    if (!on) return false;
    if (on.attachment) await this.setupNetworks(id, { removedNetworkAttachments: [{ id: on.attachment.id }] }, { op: o });
    else await this.conn.action(`hosts/${encodeURIComponent(id)}/nics/${encodeURIComponent(on.nic.id)}`, 'detach', { network: { id: networkId } }, o);
    await this.commitNetConfig(id, { op: o });
    return true;
  }

  /**
   * Put a logical network on a host NIC and persist it. v4: one `setupnetworks` attachment; v3:
   * the 3.0-era `nics/{nic}/attach` action, then the boot protocol by `PUT` on the NIC (what
   * xCAT's chhypervisor -n did, xcat-rhev.md §4.3). Both end with `commitnetconfig`.
   */
  async attachNetwork(id: string, spec: AttachNetworkSpec, opts: Opts = {}): Promise<void> {
    const o = this.op(opts);
    if ((await this.version(o)) === 4) {
      await this.setupNetworks(
        id,
        {
          modifiedNetworkAttachments: [
            {
              network: spec.network,
              hostNic: { name: spec.nic },
              ...(spec.bootProtocol !== undefined && { bootProtocol: spec.bootProtocol }),
              ...(spec.ip !== undefined && { ip: spec.ip }),
            },
          ],
        },
        { op: o },
      );
    } else {
      const nic = (await this.listNics(id, { op: o })).find((n) => n.name === spec.nic);
      if (!nic) throw new RhevmError('RB_ERR_RHEVM_STATE', `host ${id} has no NIC named ${spec.nic}`, { correlationId: o.correlationId });
      const already = (spec.network.id !== undefined && nic.network?.id === spec.network.id) || (spec.network.name !== undefined && nic.network?.name === spec.network.name);
      if (!already) await this.conn.action(`hosts/${encodeURIComponent(id)}/nics/${encodeURIComponent(nic.id)}`, 'attach', { network: spec.network }, o);
      if (spec.bootProtocol) await this.updateNic(id, nic.id, { bootProtocol: spec.bootProtocol, ...(spec.ip && { ip: spec.ip }) }, { op: o });
    }
    await this.commitNetConfig(id, { op: o });
  }
}
