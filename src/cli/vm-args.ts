/**
 * Parsing of the `rhevboot vm` option values an admin types: sizes (`2G`, `512M`, `1024` MiB),
 * CPU topology (`S[:C[:T]]`), boot order, and `--disk` / `--nic` key=value lists. Pure; a bad
 * value throws a RhevbootError naming the option, before anything is sent anywhere.
 *
 * Units are binary (G = GiB = 1024 MiB), as the engine's memory and disk sizes are: xCAT's
 * decimal `2G` = 2,000,000,000 bytes gave VMs 1907 MiB, which nobody meant.
 */
import { RhevbootError } from '../errors.js';
import type { DiskSpec, NicSpec, VmSpec } from '../virt/driver.js';

const UNIT: Record<string, number> = { '': 1, m: 1, mb: 1, mib: 1, g: 1024, gb: 1024, gib: 1024, t: 1024 * 1024, tb: 1024 * 1024, tib: 1024 * 1024 };

function bad(option: string, message: string): RhevbootError {
  return new RhevbootError('RB_ERR_INVALID', `${option}: ${message}`, { field: option.replace(/^--/, '') });
}

/** `2G`, `512M`, `1.5G`, `1024` (MiB) → MiB. */
export function parseSizeMiB(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNIT[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw bad(option, `'${text}' is not a size (e.g. 2G, 512M, or MiB)`);
  const mib = Number(m[1]) * unit;
  if (!Number.isInteger(mib) || mib <= 0) throw bad(option, `'${text}' is not a whole, positive number of MiB`);
  return mib;
}

/** `S`, `S:C` or `S:C:T` (sockets, cores per socket, threads per core). */
export function parseCpus(text: string): NonNullable<VmSpec['cpu']> {
  const parts = text.split(':');
  if (parts.length > 3 || parts.some((p) => !/^[1-9]\d{0,2}$/.test(p))) throw bad('--cpus', `'${text}' is not SOCKETS[:CORES[:THREADS]] (e.g. 2:4:1)`);
  const [s, c, t] = parts.map(Number);
  return { sockets: s!, cores: c ?? 1, threads: t ?? 1 };
}

const BOOT = new Set(['network', 'hd', 'cdrom']);

export function parseBoot(text: string): NonNullable<VmSpec['boot']> {
  const devs = text.split(',').map((d) => d.trim().toLowerCase());
  for (const d of devs) if (!BOOT.has(d)) throw bad('--boot', `'${d}' is not a boot device (network, hd, cdrom)`);
  if (new Set(devs).size !== devs.length) throw bad('--boot', 'a device is listed twice');
  return devs as NonNullable<VmSpec['boot']>;
}

/** `k=v,k=v,flag` → map; a bare word is a flag set to `true`. */
function keyValues(text: string, option: string, known: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const k = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? 'true' : item.slice(eq + 1).trim();
    if (!known.includes(k)) throw bad(option, `unknown key '${k}' (known: ${known.join(', ')})`);
    if (out.has(k)) throw bad(option, `'${k}' is given twice`);
    out.set(k, v);
  }
  return out;
}

const DISK_IF = ['virtio', 'virtio_scsi', 'ide'] as const;
const NIC_IF = ['virtio', 'e1000', 'rtl8139'] as const;

/** `size=20G,interface=virtio,format=cow,sd=data1,bootable` */
export function parseDisk(text: string, option = '--disk'): DiskSpec {
  const kv = keyValues(text, option, ['size', 'interface', 'format', 'sd', 'bootable']);
  const size = kv.get('size');
  if (!size) throw bad(option, `'${text}' has no size= (e.g. size=20G)`);
  const iface = kv.get('interface');
  if (iface !== undefined && !(DISK_IF as readonly string[]).includes(iface)) throw bad(option, `interface '${iface}' is not one of ${DISK_IF.join(', ')}`);
  const format = kv.get('format');
  if (format !== undefined && format !== 'cow' && format !== 'raw') throw bad(option, `format '${format}' is not cow or raw`);
  const bootable = kv.get('bootable');
  if (bootable !== undefined && bootable !== 'true' && bootable !== 'false') throw bad(option, `bootable is a flag (or bootable=true|false), not '${bootable}'`);
  return {
    sizeMiB: parseSizeMiB(size, option),
    ...(iface !== undefined && { interface: iface as DiskSpec['interface'] }),
    ...(format !== undefined && { format: format as 'cow' | 'raw' }),
    ...(kv.has('sd') && { storageDomain: kv.get('sd')! }),
    ...(bootable !== undefined && { bootable: bootable === 'true' }),
  };
}

/** `network=ovirtmgmt,interface=virtio,mac=…,name=nic1,profile=…` */
export function parseNic(text: string, option = '--nic'): NicSpec {
  const kv = keyValues(text, option, ['network', 'profile', 'interface', 'mac', 'name']);
  const iface = kv.get('interface');
  if (iface !== undefined && !(NIC_IF as readonly string[]).includes(iface)) throw bad(option, `interface '${iface}' is not one of ${NIC_IF.join(', ')}`);
  for (const k of ['network', 'profile', 'name']) {
    const v = kv.get(k);
    if (v !== undefined && !/^[\w.-]{1,64}$/.test(v)) throw bad(option, `${k} '${v}' is not a valid name`);
  }
  return {
    ...(kv.has('network') && { network: kv.get('network')! }),
    ...(kv.has('profile') && { profile: kv.get('profile')! }),
    ...(iface !== undefined && { interface: iface as NicSpec['interface'] }),
    ...(kv.has('mac') && { mac: kv.get('mac')! }),
    ...(kv.has('name') && { name: kv.get('name')! }),
  };
}

/** For repeatable commander options: `--disk a --disk b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
