/**
 * VM placement across a mixed estate (issue 7), after the OpenStack filter scheduler and its
 * hybrid-hypervisor design: hosts of several hypervisor types under several managers, images
 * carrying `hypervisor_type` / `architecture` / minimum memory, filters that drop the hosts that
 * cannot take the VM, then weighers that order the rest. Pure: the caller lists hosts and images.
 *
 * Filters, in order (the first that rejects a host is the reason shown for it):
 *   image            the VM's template exists on the host's manager (images are per manager)
 *   state            the host is `up`
 *   hypervisor_type  equals the image's hypervisor_type, when the image has one
 *   architecture     equals the image's architecture (or the one asked for), when there is one
 *   cluster          the host is in the cluster asked for, when one is
 *   memory           free (schedulable) memory >= max(VM memory, image min_memory_mib)
 * Weighers: `spread` (default) puts the VM where most memory stays free, `pack` where least does,
 * filling hosts before opening new ones. Ties go to the host name, so a plan is reproducible.
 */
import type { HostInfo, ImageInfo } from './hypervisor.js';

export type Weigher = 'spread' | 'pack';
export const WEIGHERS: readonly Weigher[] = ['spread', 'pack'];

export type FilterName = 'image' | 'state' | 'hypervisor_type' | 'architecture' | 'cluster' | 'memory';

export interface PlacementRequest {
  vm: string;
  memoryMiB: number;
  /** Template name; images are looked up per manager. Undefined: no image constraints (Blank). */
  template?: string;
  /** Only hosts in this cluster. */
  cluster?: string;
  /** An architecture asked for directly (the image's wins when both are given and differ: an error). */
  architecture?: string;
}

export interface HostVerdict {
  host: string;
  manager: string;
  accepted: boolean;
  /** Free MiB left on the host if the VM lands there; higher is better for spread, lower for pack. */
  weight?: number;
  /** 1 = chosen. */
  rank?: number;
  filter?: FilterName;
  reason?: string;
}

export interface Placement {
  vm: string;
  host: HostInfo;
  verdicts: HostVerdict[];
}

/** No host passed the filters; `verdicts` says why for each one. */
export class NoValidHostError extends Error {
  constructor(readonly vm: string, readonly verdicts: HostVerdict[]) {
    super(
      verdicts.length
        ? `no host can take ${vm}: ${verdicts.map((v) => `${v.host} (${v.manager}): ${v.filter} — ${v.reason}`).join('; ')}`
        : `no host can take ${vm}: no manager has any host (add one with 'rhevboot rhevm add')`,
    );
  }
}

/** Images by manager, as listed by each manager's driver. */
export type ImagesByManager = ReadonlyMap<string, readonly ImageInfo[]>;

function rejectReason(h: HostInfo, req: PlacementRequest, image: ImageInfo | undefined, images: ImagesByManager): { filter: FilterName; reason: string } | undefined {
  if (req.template !== undefined && !image) {
    return { filter: 'image', reason: images.has(h.manager) ? `template ${req.template} does not exist on ${h.manager}` : `${h.manager} did not list its templates` };
  }
  if (h.state !== 'up') return { filter: 'state', reason: `host is ${h.state}, not up` };
  const p = image?.properties ?? {};
  if (p.hypervisorType && p.hypervisorType !== h.hypervisorType) return { filter: 'hypervisor_type', reason: `image wants ${p.hypervisorType}, host is ${h.hypervisorType}` };
  const arch = p.architecture ?? req.architecture;
  if (arch && arch !== h.arch) return { filter: 'architecture', reason: `image wants ${arch}, host is ${h.arch}` };
  if (req.cluster !== undefined && h.cluster !== req.cluster) return { filter: 'cluster', reason: `host is in cluster ${h.cluster ?? '(none)'}, not ${req.cluster}` };
  const need = Math.max(req.memoryMiB, p.minMemoryMiB ?? 0);
  if (h.memoryFreeMiB < need) {
    const because = p.minMemoryMiB !== undefined && p.minMemoryMiB > req.memoryMiB ? ` (the image's minimum)` : '';
    return { filter: 'memory', reason: `${h.memoryFreeMiB} MiB free, needs ${need} MiB${because}` };
  }
  return undefined;
}

/** Problems with the request itself, the same for every host: refused before any host is looked at. */
export function requestProblem(req: PlacementRequest, images: ImagesByManager): string | undefined {
  if (!Number.isInteger(req.memoryMiB) || req.memoryMiB <= 0) return `memory must be a positive whole number of MiB, not ${req.memoryMiB}`;
  if (req.template !== undefined && req.architecture !== undefined) {
    for (const list of images.values()) {
      const img = list.find((i) => i.name === req.template);
      if (img?.properties.architecture && img.properties.architecture !== req.architecture) {
        return `template ${req.template} is ${img.properties.architecture} on ${img.manager}, but ${req.architecture} was asked for`;
      }
    }
  }
  return undefined;
}

/** Filters and weighs the hosts for one VM. Throws NoValidHostError when none passes. */
export function place(hosts: readonly HostInfo[], req: PlacementRequest, images: ImagesByManager, weigher: Weigher = 'spread'): Placement {
  const verdicts: HostVerdict[] = [];
  const passed: { h: HostInfo; v: HostVerdict }[] = [];
  for (const h of hosts) {
    const image = req.template === undefined ? undefined : images.get(h.manager)?.find((i) => i.name === req.template);
    const r = rejectReason(h, req, image, images);
    if (r) {
      verdicts.push({ host: h.name, manager: h.manager, accepted: false, ...r });
      continue;
    }
    const need = Math.max(req.memoryMiB, image?.properties.minMemoryMiB ?? 0);
    const v: HostVerdict = { host: h.name, manager: h.manager, accepted: true, weight: h.memoryFreeMiB - need };
    verdicts.push(v);
    passed.push({ h, v });
  }
  if (!passed.length) throw new NoValidHostError(req.vm, verdicts);
  const sign = weigher === 'pack' ? 1 : -1;
  passed.sort((a, b) => sign * (a.v.weight! - b.v.weight!) || a.h.name.localeCompare(b.h.name) || a.h.manager.localeCompare(b.h.manager));
  passed.forEach((p, i) => (p.v.rank = i + 1));
  return { vm: req.vm, host: passed[0]!.h, verdicts };
}

/**
 * Places several VMs in turn, each seeing the memory the earlier ones took, so `vm[01-20]`
 * spreads (or packs) as a whole instead of piling onto the host that looked freest at the start.
 * All or nothing: one VM that fits nowhere fails the plan (nothing has been created yet).
 */
export function placeMany(hosts: readonly HostInfo[], reqs: readonly PlacementRequest[], images: ImagesByManager, weigher: Weigher = 'spread'): Placement[] {
  const live = hosts.map((h) => ({ ...h }));
  return reqs.map((req) => {
    const p = place(live, req, images, weigher);
    const image = req.template === undefined ? undefined : images.get(p.host.manager)?.find((i) => i.name === req.template);
    p.host.memoryFreeMiB -= Math.max(req.memoryMiB, image?.properties.minMemoryMiB ?? 0);
    return { ...p, host: { ...p.host, memoryFreeMiB: p.host.memoryFreeMiB } };
  });
}

/** A human table of a plan's verdicts, for `--explain`. */
export function explainLines(p: { vm: string; verdicts: HostVerdict[] }): string[] {
  const rows = [...p.verdicts].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.host.localeCompare(b.host));
  const w = Math.max(4, ...rows.map((r) => `${r.host} (${r.manager})`.length));
  return [
    `${p.vm}:`,
    ...rows.map((r) => {
      const who = `${r.host} (${r.manager})`.padEnd(w);
      return r.accepted ? `  ${who}  ${r.rank === 1 ? 'CHOSEN  ' : `#${r.rank}`.padEnd(8)}weight ${r.weight} MiB free after` : `  ${who}  rejected  ${r.filter}: ${r.reason}`;
    }),
  ];
}
