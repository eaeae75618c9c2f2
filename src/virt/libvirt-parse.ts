/**
 * Readers for virsh's text output (run with `-q`, so tables come without headers, and `LC_ALL=C`,
 * so field names are English). Each reader is tolerant of extra columns and lines that later
 * libvirt releases add, and of names it cannot address (skipped, not guessed at).
 */
import { find, findAll, kids, text } from '../xml/tree.js';
import { parseLibvirtXml } from './libvirt-xml.js';

/** `Key:   value` lines (nodeinfo, dominfo, vol-info, nodememstats). */
export function keyValues(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return m;
}

/** `3145728 KiB` → MiB. */
export function kibToMiB(v: string | undefined): number | undefined {
  const m = /^(\d+)\s*(KiB|kB|k)?$/i.exec(v?.trim() ?? '');
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

export interface NodeInfo {
  cpuModel: string;
  cpus: number;
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  numaCells: number;
  memoryMiB: number;
  mhz: number;
}

export function parseNodeinfo(out: string): NodeInfo {
  const kv = keyValues(out);
  const num = (k: string): number => Number.parseInt(kv.get(k) ?? '', 10) || 0;
  return {
    cpuModel: kv.get('cpu model') ?? '',
    cpus: num('cpu(s)'),
    sockets: num('cpu socket(s)'),
    coresPerSocket: num('core(s) per socket'),
    threadsPerCore: num('thread(s) per core'),
    numaCells: num('numa cell(s)'),
    memoryMiB: kibToMiB(kv.get('memory size')) ?? 0,
    mhz: num('cpu frequency'),
  };
}

/** `nodememstats`: what the host OS could give a new guest now (free + page cache), in MiB. */
export function parseMemStats(out: string): number | undefined {
  const kv = keyValues(out);
  const free = kibToMiB(kv.get('free'));
  if (free === undefined) return undefined;
  return free + (kibToMiB(kv.get('buffers')) ?? 0) + (kibToMiB(kv.get('cached')) ?? 0);
}

/** `list --all --managed-save`: name → state words (`running`, `shut off`, `paused`, `saved`, …). */
export function parseList(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const r = /^\s*(\d+|-)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (r) m.set(r[2]!, r[3]!);
  }
  return m;
}

/** `domifaddr`: addresses without their prefix length; a `-` MAC continues the previous NIC. */
export function parseIfAddr(out: string): { mac: string; address: string }[] {
  const res: { mac: string; address: string }[] = [];
  let mac = '';
  for (const line of out.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 4 || !/^ipv[46]$/.test(t[2]!)) continue;
    if (t[1] !== '-') mac = t[1]!.toLowerCase();
    res.push({ mac, address: t[3]!.replace(/\/\d+$/, '') });
  }
  return res;
}

/** `net-dhcp-leases NET`: libvirt's dnsmasq leases, MAC → address. */
export function parseLeases(out: string): { mac: string; address: string }[] {
  const res: { mac: string; address: string }[] = [];
  for (const line of out.split('\n')) {
    const mac = /\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i.exec(line)?.[1];
    const addr = /\s(ipv[46])\s+(\S+?)(?:\/\d+)?\s/.exec(`${line} `)?.[2];
    if (mac && addr) res.push({ mac: mac.toLowerCase(), address: addr });
  }
  return res;
}

/** First column of a headerless table (`vol-list`, `pool-list`, `net-list`). */
export function firstColumn(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

export interface Capabilities {
  hostUuid?: string;
  arch: string;
  /** Domain types this host can run for its own arch, hvm guests (kvm, qemu, test). */
  domainTypes: string[];
}

export function parseCapabilities(xml: string): Capabilities {
  const caps = parseLibvirtXml(xml, 'capabilities');
  const arch = text(find(caps, 'host/cpu/arch')) ?? 'unknown';
  const hostUuid = text(find(caps, 'host/uuid'));
  const types: string[] = [];
  for (const g of kids(caps, 'guest')) {
    if (text(find(g, 'os_type')) !== 'hvm') continue;
    for (const a of kids(g, 'arch')) if (a.attrs.name === arch) for (const d of findAll(a, 'domain')) if (d.attrs.type && !types.includes(d.attrs.type)) types.push(d.attrs.type);
  }
  return { ...(hostUuid ? { hostUuid } : {}), arch, domainTypes: types };
}
