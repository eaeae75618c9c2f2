/**
 * Domain XML for the libvirt driver: built from a VmSpec, read back into what VmInfo needs, edited
 * for updates and rewritten for clones. Pure functions over the XEl tree; the driver does the I/O.
 *
 * Conventions (see also libvirt-driver.ts):
 * - rhevboot's own facts about a domain live in `<metadata>` in one element of namespace `NS`
 *   (libvirt keeps one metadata element per namespace): `<rb:rhevboot osType="…">` (libvirt has
 *   no OS-type word like RHEV's `rhel_7x64`) holding, on domains that are templates,
 *   `<rb:template hypervisorType="kvm" architecture="x86_64" minMemoryMiB="…"/>`.
 * - Disks are volumes in a storage pool, named `<vm>-disk<N>.qcow2` (`.img` when raw).
 * - A NIC's network is a libvirt network name, or `bridge:<name>` for a host bridge (how a VM
 *   reaches a provisioning LAN on a plain KVM host).
 */
import { randomBytes } from 'node:crypto';
import { RhevbootError } from '../errors.js';
import type { DiskSpec, NicSpec, VmChanges, VmSpec } from './driver.js';
import { el, find, findAll, kids, removeKids, setText, text, type XEl } from '../xml/tree.js';
import { mib } from './libvirt-xml.js';

export const NS = 'urn:x-rhevboot:libvirt:1';

/** Domain, volume, pool and network names: what a node name may be, and safe on virsh's line. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Whether a name found on the host (made outside rhevboot) can be passed back to virsh. */
export function checkSafeName(name: string): boolean {
  return NAME.test(name);
}

export function checkName(name: string, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new RhevbootError('RB_ERR_INVALID', `${what} name '${String(name).replace(/[^\x20-\x7e]/g, '?').slice(0, 80)}' must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit`, { field: what });
  return name;
}

export function checkMac(mac: string): string {
  const m = mac.toLowerCase();
  if (!MAC.test(m)) throw new RhevbootError('RB_ERR_INVALID', `MAC '${mac}' must be six hex pairs separated by ':'`, { field: 'mac' });
  // libvirt refuses multicast addresses for a NIC; say so before it does.
  if (parseInt(m.slice(0, 2), 16) & 1) throw new RhevbootError('RB_ERR_INVALID', `MAC ${m} is a multicast address`, { field: 'mac' });
  return m;
}

/** A fresh MAC in QEMU's 52:54:00 range, unlike any in `taken`. */
export function newMac(taken: Set<string>): string {
  for (;;) {
    const b = randomBytes(3);
    const mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) {
      taken.add(mac);
      return mac;
    }
  }
}

// ---- disks ------------------------------------------------------------------------------------

export interface PlannedDisk {
  pool: string;
  volume: string;
  format: 'qcow2' | 'raw';
  sizeMiB: number;
  bus: 'virtio' | 'scsi' | 'ide';
  dev: string;
}

const PREFIX = { virtio: 'vd', scsi: 'sd', ide: 'hd' } as const;

/** Volumes and target devices for new disks, after the devices the domain already has. */
export function planDisks(vm: string, disks: DiskSpec[], defaultPool: string, existing: XEl | undefined, volumesTaken: Set<string>): PlannedDisk[] {
  const devs = new Set(findAll(existing, 'devices/disk').map((d) => find(d, 'target')?.attrs.dev ?? ''));
  // The bootable disk first: libvirt's `<boot dev='hd'/>` boots the first disk.
  const ordered = [...disks].sort((a, b) => Number(b.bootable === true) - Number(a.bootable === true));
  return ordered.map((d) => {
    if (!Number.isInteger(d.sizeMiB) || d.sizeMiB <= 0) throw new RhevbootError('RB_ERR_INVALID', `disk size must be a positive whole number of MiB, not ${d.sizeMiB}`, { field: 'sizeMiB' });
    const bus = d.interface === 'virtio_scsi' ? 'scsi' : d.interface === 'ide' ? 'ide' : 'virtio';
    const format = d.format === 'raw' ? 'raw' : 'qcow2';
    let dev = '';
    for (let i = 0; i < 26 && !dev; i++) {
      const c = `${PREFIX[bus]}${String.fromCharCode(97 + i)}`;
      if (!devs.has(c)) dev = c;
    }
    if (!dev || (bus === 'ide' && dev > 'hdd')) throw new RhevbootError('RB_ERR_INVALID', `no free ${bus} disk slot left on ${vm}`);
    devs.add(dev);
    let n = 0;
    let volume = '';
    do volume = `${vm}-disk${n++}.${format === 'raw' ? 'img' : 'qcow2'}`;
    while (volumesTaken.has(volume));
    volumesTaken.add(volume);
    return { pool: checkName(d.storageDomain ?? defaultPool, 'storage pool'), volume, format, sizeMiB: d.sizeMiB, bus, dev };
  });
}

export function diskXml(d: PlannedDisk): XEl {
  return el('disk', { type: 'volume', device: 'disk' }, [el('driver', { name: 'qemu', type: d.format }), el('source', { pool: d.pool, volume: d.volume }), el('target', { dev: d.dev, bus: d.bus })]);
}

// ---- NICs -------------------------------------------------------------------------------------

export function nicXml(nic: NicSpec, mac: string, defaultNetwork: string): XEl {
  const net = nic.network ?? nic.profile ?? defaultNetwork;
  const bridge = net.startsWith('bridge:') ? checkName(net.slice(7), 'bridge') : undefined;
  const source = bridge ? el('source', { bridge }) : el('source', { network: checkName(net, 'network') });
  return el('interface', { type: bridge ? 'bridge' : 'network' }, [el('mac', { address: mac }), source, el('model', { type: nic.interface ?? 'virtio' })]);
}

// ---- whole domains --------------------------------------------------------------------------

export interface HostFacts {
  /** `kvm` on a KVM host, `qemu` without it, `test` for libvirt's test driver. */
  domainType: string;
  arch: string;
}

export function topology(cpu: VmSpec['cpu']): { sockets: number; cores: number; threads: number; total: number } {
  const t = { sockets: cpu?.sockets ?? 1, cores: cpu?.cores ?? 1, threads: cpu?.threads ?? 1 };
  for (const [k, v] of Object.entries(t)) if (!Number.isInteger(v) || v < 1 || v > 1024) throw new RhevbootError('RB_ERR_INVALID', `cpu ${k} must be a whole number from 1, not ${v}`, { field: k });
  return { ...t, total: t.sockets * t.cores * t.threads };
}

function checkMemory(m: number): number {
  if (!Number.isInteger(m) || m < 1) throw new RhevbootError('RB_ERR_INVALID', `memory must be a positive whole number of MiB, not ${m}`, { field: 'memoryMiB' });
  return m;
}

const BOOT = { network: 'network', hd: 'hd', cdrom: 'cdrom' } as const;

function bootXml(boot: VmSpec['boot']): XEl[] {
  return (boot && boot.length > 0 ? boot : ['hd' as const]).map((b) => {
    if (!(b in BOOT)) throw new RhevbootError('RB_ERR_INVALID', `boot device '${String(b)}' is not network, hd or cdrom`, { field: 'boot' });
    return el('boot', { dev: BOOT[b] });
  });
}

function graphicsXml(display: 'vnc' | 'spice'): XEl {
  if (display !== 'vnc' && display !== 'spice') throw new RhevbootError('RB_ERR_INVALID', `display '${String(display)}' is not vnc or spice`, { field: 'display' });
  return el('graphics', { type: display, autoport: 'yes' });
}

/** The domain for a new VM; its disks' volumes are created by the driver before `define`. */
export function buildDomain(spec: VmSpec, host: HostFacts, disks: PlannedDisk[], nics: XEl[]): XEl {
  const t = topology(spec.cpu);
  const mem = String(checkMemory(spec.memoryMiB));
  const x86 = /^(x86_64|i686)$/.test(host.arch);
  return el('domain', { type: host.domainType }, [
    el('name', {}, [checkName(spec.name, 'VM')]),
    el('metadata', {}, [el('rb:rhevboot', { 'xmlns:rb': NS, osType: spec.osType })]),
    el('memory', { unit: 'MiB' }, [mem]),
    el('currentMemory', { unit: 'MiB' }, [mem]),
    el('vcpu', { placement: 'static' }, [String(t.total)]),
    el('os', {}, [el('type', { arch: host.arch }, ['hvm']), ...bootXml(spec.boot)]),
    // ACPI: without it a KVM guest never sees `virsh shutdown`'s power button.
    x86 && el('features', {}, [el('acpi'), el('apic')]),
    el('cpu', {}, [el('topology', { sockets: t.sockets, cores: t.cores, threads: t.threads })]),
    el('devices', {}, [
      disks.some((d) => d.bus === 'scsi') && el('controller', { type: 'scsi', model: 'virtio-scsi' }),
      ...disks.map(diskXml),
      ...nics,
      graphicsXml(spec.display ?? 'vnc'),
      // A serial console: how an admin watches a PXE install on a host without a desktop.
      el('serial', { type: 'pty' }),
      el('console', { type: 'pty' }),
    ]),
  ]);
}

// ---- reading ----------------------------------------------------------------------------------

export interface DomainFacts {
  name: string;
  uuid: string;
  memoryMiB?: number;
  cpus?: number;
  macs: string[];
  osType?: string;
  template?: { hypervisorType?: string; architecture?: string; minMemoryMiB?: number };
}

const local = (n: XEl): string => n.name.split(':').pop()!;

/** Our metadata element, whatever prefix libvirt kept for NS. */
export function ours(dom: XEl): XEl | undefined {
  return kids(find(dom, 'metadata')).find((m) => local(m) === 'rhevboot' && Object.entries(m.attrs).some(([k, v]) => k.startsWith('xmlns') && v === NS));
}

function prefixOf(n: XEl): string {
  return n.name.includes(':') ? `${n.name.split(':')[0]}:` : '';
}

/** Our metadata element, made when the domain has none (one defined outside rhevboot). */
export function ensureOurs(dom: XEl): XEl {
  const have = ours(dom);
  if (have) return have;
  let meta = find(dom, 'metadata');
  if (!meta) {
    meta = el('metadata');
    dom.children.splice(Math.max(0, dom.children.findIndex((c) => typeof c === 'object' && c.name === 'uuid') + 1), 0, meta);
  }
  const made = el('rb:rhevboot', { 'xmlns:rb': NS });
  meta.children.push(made);
  return made;
}

export function readDomain(dom: XEl): DomainFacts {
  const vcpu = find(dom, 'vcpu');
  const cpus = Number(vcpu?.attrs.current ?? text(vcpu));
  const root = ours(dom);
  const tpl = kids(root).find((k) => local(k) === 'template');
  const minMem = tpl?.attrs.minMemoryMiB !== undefined ? Number(tpl.attrs.minMemoryMiB) : undefined;
  const memoryMiB = mib(find(dom, 'currentMemory')) ?? mib(find(dom, 'memory'));
  const osType = root?.attrs.osType;
  return {
    name: text(find(dom, 'name')) ?? '',
    uuid: text(find(dom, 'uuid')) ?? '',
    ...(memoryMiB !== undefined ? { memoryMiB } : {}),
    ...(Number.isFinite(cpus) && cpus > 0 ? { cpus } : {}),
    macs: findAll(dom, 'devices/interface').map((i) => find(i, 'mac')?.attrs.address?.toLowerCase()).filter((m): m is string => !!m),
    ...(osType ? { osType } : {}),
    ...(tpl
      ? {
          template: {
            ...(tpl.attrs.hypervisorType ? { hypervisorType: tpl.attrs.hypervisorType } : {}),
            ...(tpl.attrs.architecture ? { architecture: tpl.attrs.architecture } : {}),
            ...(minMem !== undefined && Number.isFinite(minMem) ? { minMemoryMiB: minMem } : {}),
          },
        }
      : {}),
  };
}

/** Marks (or unmarks, with `props` undefined) a domain as a template. */
export function setTemplate(dom: XEl, props: DomainFacts['template'] | undefined): void {
  if (!props && !ours(dom)) return;
  const root = ensureOurs(dom);
  root.children = root.children.filter((c) => typeof c === 'string' || local(c) !== 'template');
  if (props) root.children.push(el(`${prefixOf(root)}template`, { hypervisorType: props.hypervisorType, architecture: props.architecture, minMemoryMiB: props.minMemoryMiB }));
}

/** virtio-scsi for SCSI disks (libvirt would add an emulated LSI controller by itself). */
export function ensureScsiController(dom: XEl, disks: PlannedDisk[]): void {
  const devices = find(dom, 'devices');
  if (!devices || !disks.some((d) => d.bus === 'scsi') || kids(devices, 'controller').some((c) => c.attrs.type === 'scsi')) return;
  devices.children.push(el('controller', { type: 'scsi', model: 'virtio-scsi' }));
}

// ---- editing ----------------------------------------------------------------------------------

/** Applies memory, CPU, boot and display changes to a domain's persistent XML. */
export function applyChanges(dom: XEl, ch: VmChanges): void {
  if (ch.memoryMiB !== undefined) {
    const m = String(checkMemory(ch.memoryMiB));
    for (const tag of ['memory', 'currentMemory']) {
      let n = find(dom, tag);
      if (!n) dom.children.push((n = el(tag)));
      n.attrs = { unit: 'MiB' };
      setText(n, m);
    }
  }
  if (ch.cpu !== undefined) {
    const t = topology(ch.cpu);
    let vcpu = find(dom, 'vcpu');
    if (!vcpu) dom.children.push((vcpu = el('vcpu', { placement: 'static' })));
    delete vcpu.attrs.current;
    setText(vcpu, String(t.total));
    let cpu = find(dom, 'cpu');
    if (!cpu) dom.children.push((cpu = el('cpu')));
    let topo = find(cpu, 'topology');
    if (!topo) cpu.children.push((topo = el('topology')));
    topo.attrs = { sockets: String(t.sockets), ...(topo.attrs.dies ? { dies: '1' } : {}), cores: String(t.cores), threads: String(t.threads) };
  }
  if (ch.boot !== undefined) {
    const os = find(dom, 'os');
    if (!os) throw new RhevbootError('RB_ERR_LIBVIRT', 'the domain XML has no <os> element');
    removeKids(os, 'boot');
    const at = os.children.findIndex((c) => typeof c === 'object' && c.name === 'type') + 1;
    os.children.splice(at, 0, ...bootXml(ch.boot));
    // Per-device boot order and <os><boot> exclude each other; the VM-wide order wins.
    for (const d of [...findAll(dom, 'devices/disk'), ...findAll(dom, 'devices/interface')]) removeKids(d, 'boot');
  }
  if (ch.display !== undefined) {
    const devices = find(dom, 'devices')!;
    const g = graphicsXml(ch.display);
    const old = kids(devices, 'graphics')[0];
    if (old) devices.children[devices.children.indexOf(old)] = g;
    else devices.children.push(g);
  }
}

/** Removes NICs named by MAC or as `nic1`, `nic2`, … (their order in the domain); returns the MACs removed. */
export function removeNics(dom: XEl, which: string[]): string[] {
  const devices = find(dom, 'devices');
  const nics = kids(devices, 'interface');
  const removed: string[] = [];
  for (const w of which) {
    const k = /^nic(\d+)$/.exec(w);
    const hit = k ? nics[Number(k[1]) - 1] : nics.find((n) => find(n, 'mac')?.attrs.address?.toLowerCase() === w.toLowerCase());
    if (!hit || !devices) throw new RhevbootError('RB_ERR_NOT_FOUND', `no NIC '${w}' (name one by MAC or as nic1, nic2, …)`, { nic: w });
    devices.children = devices.children.filter((c) => c !== hit);
    removed.push(find(hit, 'mac')?.attrs.address ?? w);
  }
  return removed;
}

/** What a clone of `dom` named `name` must not keep: identity, live-only state, template mark. */
export function cloneIdentity(dom: XEl, name: string, macs: Set<string>): XEl {
  const copy = structuredClone(dom);
  setText(find(copy, 'name')!, name);
  removeKids(copy, 'uuid');
  removeKids(copy, 'title');
  setTemplate(copy, undefined);
  const os = find(copy, 'os');
  if (os) removeKids(os, 'nvram'); // UEFI variables: libvirt makes a fresh store from the template
  for (const nic of findAll(copy, 'devices/interface')) {
    removeKids(nic, 'target');
    removeKids(nic, 'alias');
    let mac = find(nic, 'mac');
    if (!mac) nic.children.unshift((mac = el('mac')));
    mac.attrs = { address: newMac(macs) };
  }
  for (const g of findAll(copy, 'devices/graphics')) {
    if (g.attrs.autoport !== 'no') {
      delete g.attrs.port;
      delete g.attrs.tlsPort;
      delete g.attrs.websocket;
    }
  }
  return copy;
}
