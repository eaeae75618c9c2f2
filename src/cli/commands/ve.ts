/**
 * `rhevboot ve`: an engine's virtual environment, after xCAT's cfgve/lsve (xcat-rhev.md §4.4):
 * the same four types (`-t dc|cl|sd|nw` become the words, xCAT's short forms kept), the same
 * verbs as subcommands, options named after what the engine calls things.
 */
import { Argument, InvalidArgumentError, type Command } from 'commander';
import { RhevbootError } from '../../errors.js';
import { parseVeType, TYPE_LABEL, type VeType } from '../../management/ve-input.js';
import type { ClusterView, DataCenterView, NetworkView, StorageDomainView, VeListing, VeView } from '../../management/ve-views.js';
import { withContext, type GlobalOptions } from '../context.js';
import { formatBytes, printJson, printTable } from '../output.js';

const TYPE_WORDS = ['datacenter', 'dc', 'cluster', 'cl', 'storagedomain', 'sd', 'network', 'nw'];
const typeArg = (required: boolean): Argument =>
  new Argument(required ? '<type>' : '[type]', 'datacenter (dc), cluster (cl), storagedomain (sd) or network (nw)').choices(TYPE_WORDS);

function int(what: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${what} must be a whole number`);
    return Number(v);
  };
}

const csv = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((x) => x.trim()).filter(Boolean)];

interface MkOptions {
  engine: string;
  json?: boolean;
  description?: string;
  storageType?: string;
  compatVersion?: string;
  dc?: string;
  cpu?: string;
  domainType?: string;
  host?: string;
  address?: string;
  path?: string;
  port?: number;
  target?: string;
  lun?: string[];
  nfsVersion?: string;
  mountOptions?: string;
  vlan?: number;
  mtu?: number;
  vm?: boolean;
  stp?: boolean;
}

/** Which `mk` options each type takes; any other given on the command line is refused by name. */
const MK_OPTIONS: Record<VeType, (keyof MkOptions)[]> = {
  datacenter: ['storageType', 'compatVersion', 'description'],
  cluster: ['dc', 'cpu', 'compatVersion', 'description'],
  storagedomain: ['storageType', 'domainType', 'host', 'address', 'path', 'port', 'target', 'lun', 'nfsVersion', 'mountOptions', 'dc', 'description'],
  network: ['dc', 'vlan', 'mtu', 'vm', 'stp', 'description'],
};
const ALWAYS = new Set(['engine', 'json']);
const flag = (k: string): string => `--${k === 'vm' ? 'no-vm' : k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Refuse options that were given but do not apply to the type (they would silently do nothing). */
function refuseForeign(cmd: Command, allowed: string[], what: string): void {
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (ALWAYS.has(key) || allowed.includes(key)) continue;
    if (cmd.getOptionValueSource(key) === 'cli') throw new RhevbootError('RB_ERR_INVALID', `${flag(key)} does not apply to ${what}`, { field: key });
  }
}

function need<T>(v: T | undefined, opt: string, what: string): T {
  if (v === undefined) throw new RhevbootError('RB_ERR_INVALID', `${what} needs ${opt}`, { field: opt.replace(/^--/, '') });
  return v;
}

// ---- output ----------------------------------------------------------------------------------

const dash = (v: string | number | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));

function dcTable(rows: DataCenterView[]): void {
  printTable(['NAME', 'STATUS', 'STORAGE', 'VERSION', 'DESCRIPTION'], rows.map((d) => [d.name, dash(d.status), d.storageType ? `${d.storage} (${d.storageType})` : d.storage, dash(d.version), dash(d.description)]));
}

function clusterTable(rows: ClusterView[]): void {
  printTable(['NAME', 'DATA CENTER', 'CPU', 'VERSION'], rows.map((c) => [c.name, dash(c.dataCenter), dash(c.cpuType), dash(c.version)]));
}

function location(s: StorageDomainView): string {
  if (s.luns.length) return `${s.address ? `${s.address} ` : ''}${s.luns.length} LUN${s.luns.length > 1 ? 's' : ''}: ${s.luns.join(',')}`;
  return s.address ? `${s.address}:${s.path ?? ''}` : dash(s.path);
}

function sdTable(rows: StorageDomainView[]): void {
  printTable(
    ['NAME', 'TYPE', 'STORAGE', 'STATUS', 'DATA CENTER', 'FREE', 'LOCATION'],
    rows.map((s) => [s.name, dash(s.domainType), dash(s.storageType), `${s.status}${s.master ? ' (master)' : ''}`, s.dataCenters.map((d) => d.name).join(',') || '-', s.availableBytes === null ? '-' : formatBytes(s.availableBytes), location(s)]),
  );
}

function networkTable(rows: NetworkView[]): void {
  printTable(
    ['NAME', 'DATA CENTER', 'VLAN', 'MTU', 'VM', 'CLUSTERS'],
    rows.map((n) => [n.name, dash(n.dataCenter), dash(n.vlan), n.mtu ? String(n.mtu) : 'default', n.vm ? 'yes' : 'no', n.clusters.map((c) => `${c.name} (${c.required === false ? 'optional' : 'required'}${c.status ? `, ${c.status}` : ''})`).join(', ') || '-']),
  );
}

function table(type: VeType, rows: VeView[]): void {
  if (type === 'datacenter') dcTable(rows as DataCenterView[]);
  else if (type === 'cluster') clusterTable(rows as ClusterView[]);
  else if (type === 'storagedomain') sdTable(rows as StorageDomainView[]);
  else networkTable(rows as NetworkView[]);
}

/** One line saying where the object now stands. */
function summary(type: VeType, v: VeView): string {
  if (type === 'datacenter') return `data center ${v.name}: ${(v as DataCenterView).status ?? '?'}`;
  if (type === 'cluster') return `cluster ${v.name} in data center ${(v as ClusterView).dataCenter ?? '?'}`;
  if (type === 'storagedomain') {
    const s = v as StorageDomainView;
    return `storage domain ${s.name}: ${s.dataCenters.length ? s.dataCenters.map((d) => `${d.status ?? '?'} in data center ${d.name}`).join(', ') : s.status}${s.master ? ' (master)' : ''}`;
  }
  const n = v as NetworkView;
  return `network ${n.name} in data center ${n.dataCenter ?? '?'}${n.vlan !== null ? `, VLAN ${n.vlan}` : ''}; clusters: ${n.clusters.map((c) => `${c.name} (${c.status ?? '?'})`).join(', ') || 'none'}`;
}

function show(type: VeType, v: VeView, json: boolean | undefined, extra = ''): void {
  if (json) printJson(v);
  else process.stdout.write(`${summary(type, v)}${extra}\n`);
}

// ---- commands --------------------------------------------------------------------------------

export function veCommand(program: Command, globals: () => GlobalOptions): void {
  const ve = program.command('ve').description("an engine's virtual environment: data centers, clusters, storage domains, logical networks (xCAT's cfgve/lsve)");
  const engineOpt = (c: Command): Command => c.requiredOption('--engine <name>', 'the engine (rhevboot rhevm ls)').option('--json', 'JSON output');

  engineOpt(
    ve
      .command('ls')
      .description('list data centers, clusters, storage domains and networks with their state (all four, or one type)')
      .addArgument(typeArg(false))
      .option('--dc <name>', 'only what belongs to this data center'),
  ).action(async (word: string | undefined, o: { engine: string; json?: boolean; dc?: string }) => {
    await withContext(globals(), async ({ services }) => {
      if (word !== undefined) {
        const type = parseVeType(word);
        const rows = await services.ve.list(o.engine, type, o.dc);
        return o.json ? printJson(rows) : table(type, rows);
      }
      const all = await services.ve.listAll(o.engine, o.dc);
      if (o.json) return printJson(all);
      const sections: [string, VeType, keyof VeListing][] = [
        ['DATA CENTERS', 'datacenter', 'datacenters'],
        ['CLUSTERS', 'cluster', 'clusters'],
        ['STORAGE DOMAINS', 'storagedomain', 'storagedomains'],
        ['NETWORKS', 'network', 'networks'],
      ];
      sections.forEach(([title, type, key], i) => {
        process.stdout.write(`${i ? '\n' : ''}${title}\n`);
        table(type, all[key]);
      });
    });
  });

  engineOpt(
    ve
      .command('mk')
      .description('create a data center, cluster, storage domain or network, and wait for its end state')
      .addArgument(typeArg(true))
      .argument('<name>')
      .option('--description <text>', 'any type')
      .option('--storage-type <type>', 'datacenter: shared (default) or local; storagedomain: nfs, iscsi, fc or localfs')
      .option('--compat-version <x.y>', 'datacenter, cluster: compatibility version, e.g. 4.3 (default: the engine\'s / the data center\'s)')
      .option('--dc <name>', "cluster, network: its data center (required); storagedomain: attach there and wait until active (the data center comes up with its first data domain)")
      .option('--cpu <type>', 'cluster: CPU type, e.g. "Intel Nehalem Family" (v3 default: Intel Penryn Family)')
      .option('--domain-type <type>', 'storagedomain: data (default), iso or export')
      .option('--host <name>', 'storagedomain: the host (up) that creates it')
      .option('--address <host>', 'storagedomain: NFS server or iSCSI portal')
      .option('--path <path>', 'storagedomain: NFS export or local directory')
      .option('--port <n>', 'storagedomain: iSCSI portal port (default 3260)', int('--port'))
      .option('--target <iqn>', 'storagedomain: iSCSI target')
      .option('--lun <id>', 'storagedomain: iSCSI/FC LUN id(s), comma-separated or repeated', csv)
      .option('--nfs-version <v>', 'storagedomain: auto, v3, v4, v4_1, v4_2')
      .option('--mount-options <opts>', 'storagedomain: extra NFS mount options')
      .option('--vlan <id>', 'network: VLAN tag (0-4094)', int('--vlan'))
      .option('--mtu <n>', 'network: MTU (default: the engine\'s)', int('--mtu'))
      .option('--no-vm', 'network: not a VM network (no bridge for guests)')
      .option('--stp', 'network: spanning tree on its bridges'),
  ).action(async function (this: Command, word: string, name: string, o: MkOptions) {
    const type = parseVeType(word);
    const what = `a ${TYPE_LABEL[type]}`;
    refuseForeign(this, MK_OPTIONS[type], what);
    const desc = o.description !== undefined ? { description: o.description } : {};
    await withContext(globals(), async ({ services }) => {
      let v: VeView;
      if (type === 'datacenter') {
        v = await services.ve.createDataCenter(o.engine, { name, ...desc, ...(o.storageType !== undefined && { storageType: o.storageType }), ...(o.compatVersion !== undefined && { version: o.compatVersion }) });
      } else if (type === 'cluster') {
        v = await services.ve.createCluster(o.engine, { name, dataCenter: need(o.dc, '--dc', what), ...desc, ...(o.cpu !== undefined && { cpuType: o.cpu }), ...(o.compatVersion !== undefined && { version: o.compatVersion }) });
      } else if (type === 'storagedomain') {
        v = await services.ve.createStorageDomain(o.engine, {
          name,
          ...desc,
          storageType: need(o.storageType, '--storage-type', what),
          host: need(o.host, '--host', what),
          ...(o.domainType !== undefined && { domainType: o.domainType }),
          ...(o.address !== undefined && { address: o.address }),
          ...(o.path !== undefined && { path: o.path }),
          ...(o.port !== undefined && { port: o.port }),
          ...(o.target !== undefined && { target: o.target }),
          ...(o.lun !== undefined && { luns: o.lun }),
          ...(o.nfsVersion !== undefined && { nfsVersion: o.nfsVersion }),
          ...(o.mountOptions !== undefined && { mountOptions: o.mountOptions }),
          ...(o.dc !== undefined && { dataCenter: o.dc }),
        });
      } else {
        v = await services.ve.createNetwork(o.engine, { name, dataCenter: need(o.dc, '--dc', what), ...desc, vm: o.vm !== false, ...(o.vlan !== undefined && { vlan: o.vlan }), ...(o.mtu !== undefined && { mtu: o.mtu }), ...(o.stp && { stp: true }) });
      }
      show(type, v, o.json, o.json ? '' : ' (created)');
    });
  });

  ve.command('rm')
    .description('remove a data center, cluster, storage domain or network')
    .addArgument(typeArg(true))
    .argument('<name>')
    .requiredOption('--engine <name>', 'the engine')
    .option('--force', 'datacenter, cluster: the engine\'s force; storagedomain: deactivate and detach it first')
    .option('--format', 'storagedomain: wipe the storage')
    .option('--destroy', 'storagedomain: only forget it, leave the storage untouched')
    .option('--host <name>', 'storagedomain: the host to remove it through (default: the SPM, or any host that is up)')
    .option('--dc <name>', 'network: its data center, when the name is in several')
    .action(async function (this: Command, word: string, name: string, o: { engine: string; force?: boolean; format?: boolean; destroy?: boolean; host?: string; dc?: string }) {
      const type = parseVeType(word);
      refuseForeign(this, type === 'storagedomain' ? ['force', 'format', 'destroy', 'host'] : type === 'network' ? ['dc'] : ['force'], `a ${TYPE_LABEL[type]}`);
      await withContext(globals(), async ({ services }) => {
        await services.ve.remove(o.engine, type, name, { force: o.force === true, format: o.format === true, destroy: o.destroy === true, ...(o.host !== undefined && { host: o.host }), ...(o.dc !== undefined && { dataCenter: o.dc }) });
        process.stdout.write(`${TYPE_LABEL[type]} ${name} removed\n`);
      });
    });

  // Storage-domain verbs: attach | detach | activate | deactivate storagedomain NAME --dc DC.
  for (const verb of ['activate', 'deactivate'] as const) {
    const c = engineOpt(
      ve
        .command(verb)
        .description(verb === 'activate' ? 'activate a storage domain in its data center (waits until active)' : 'put a storage domain into maintenance in its data center (waits until maintenance)')
        .addArgument(new Argument('<type>', 'storagedomain (sd)').choices(['storagedomain', 'sd']))
        .argument('<name>')
        .requiredOption('--dc <name>', 'the data center'),
    );
    if (verb === 'deactivate') c.option('--force', "the engine's force (e.g. when the domain is unreachable)");
    c.action(async (_w: string, name: string, o: { engine: string; json?: boolean; dc: string; force?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const v = verb === 'activate' ? await services.ve.activateStorageDomain(o.engine, name, o.dc) : await services.ve.deactivateStorageDomain(o.engine, name, o.dc, { force: o.force === true });
        show('storagedomain', v, o.json);
      });
    });
  }

  engineOpt(
    ve
      .command('attach')
      .description('attach a storage domain to a data center (waits until active), or a network to a cluster or to a host NIC (committed)')
      .addArgument(new Argument('<type>', 'storagedomain (sd) or network (nw)').choices(['storagedomain', 'sd', 'network', 'nw']))
      .argument('<name>')
      .option('--dc <name>', 'storagedomain: the data center')
      .option('--cluster <name>', 'network: the cluster')
      .option('--optional', 'network to a cluster: not required (hosts without it stay operational)')
      .option('--host <name>', 'network: the host')
      .option('--nic <name>', 'network to a host: its NIC, e.g. eth1')
      .option('--boot-protocol <p>', 'network to a host: none, dhcp or static')
      .option('--ip <address>', 'network to a host, static: the address')
      .option('--netmask <mask>', 'network to a host, static: the netmask')
      .option('--gateway <address>', 'network to a host, static: the gateway'),
  ).action(async function (this: Command, word: string, name: string, o: { engine: string; json?: boolean; dc?: string; cluster?: string; optional?: boolean; host?: string; nic?: string; bootProtocol?: string; ip?: string; netmask?: string; gateway?: string }) {
    const type = parseVeType(word);
    await withContext(globals(), async ({ services }) => {
      if (type === 'storagedomain') {
        refuseForeign(this, ['dc'], 'attaching a storage domain');
        show(type, await services.ve.attachStorageDomain(o.engine, name, need(o.dc, '--dc', 'attaching a storage domain')), o.json);
      } else if (o.cluster !== undefined) {
        refuseForeign(this, ['cluster', 'optional'], 'attaching a network to a cluster');
        show(type, await services.ve.attachNetworkToCluster(o.engine, name, { cluster: o.cluster, ...(o.optional && { required: false }) }), o.json);
      } else {
        refuseForeign(this, ['host', 'nic', 'bootProtocol', 'ip', 'netmask', 'gateway'], 'attaching a network to a host');
        const v = await services.ve.attachNetworkToHost(o.engine, name, {
          host: need(o.host, '--cluster or --host', 'attaching a network'),
          nic: need(o.nic, '--nic', 'attaching a network to a host'),
          ...(o.bootProtocol !== undefined && { bootProtocol: o.bootProtocol }),
          ...(o.ip !== undefined && { address: o.ip }),
          ...(o.netmask !== undefined && { netmask: o.netmask }),
          ...(o.gateway !== undefined && { gateway: o.gateway }),
        });
        show(type, v, o.json, `; on ${v.host.name} ${v.host.nic}, committed (host ${v.host.status ?? '?'})`);
      }
    });
  });

  engineOpt(
    ve
      .command('detach')
      .description('detach a storage domain from a data center (it must be in maintenance), or a network from a cluster or a host')
      .addArgument(new Argument('<type>', 'storagedomain (sd) or network (nw)').choices(['storagedomain', 'sd', 'network', 'nw']))
      .argument('<name>')
      .option('--dc <name>', 'storagedomain: the data center')
      .option('--cluster <name>', 'network: the cluster')
      .option('--host <name>', 'network: the host'),
  ).action(async function (this: Command, word: string, name: string, o: { engine: string; json?: boolean; dc?: string; cluster?: string; host?: string }) {
    const type = parseVeType(word);
    await withContext(globals(), async ({ services }) => {
      if (type === 'storagedomain') {
        refuseForeign(this, ['dc'], 'detaching a storage domain');
        show(type, await services.ve.detachStorageDomain(o.engine, name, need(o.dc, '--dc', 'detaching a storage domain')), o.json);
      } else {
        refuseForeign(this, ['cluster', 'host'], 'detaching a network');
        show(type, await services.ve.detachNetwork(o.engine, name, { ...(o.cluster !== undefined && { cluster: o.cluster }), ...(o.host !== undefined && { host: o.host }) }), o.json);
      }
    });
  });
}
