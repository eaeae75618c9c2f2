/**
 * Image properties for placement, written where an admin can edit them on any manager: in the
 * template's (or libvirt image's) description, as `key=value` pairs separated by `;`, `,` or
 * whitespace — the OpenStack image-property convention (`hypervisor_type`, `architecture`,
 * `min_ram`) carried in a field every RHEV-M version has. Example description:
 *
 *     RHEL 7 golden image  hypervisor_type=kvm;architecture=x86_64;min_memory_mib=1024
 *
 * Keys: `hypervisor_type` (rhevh, kvm, …), `architecture` (alias `arch`), `min_memory_mib`
 * (alias OpenStack's `min_ram`, also MiB). Other words and unknown keys are ignored, so free text
 * can surround the properties. A malformed value (min_memory_mib=lots) is ignored too, but
 * reported, so a listing can say why a property does not apply.
 */
import type { ImageInfo } from '../domain/hypervisor.js';

export interface ParsedProperties {
  properties: ImageInfo['properties'];
  /** `key=value` pairs that were recognised but unusable. */
  problems: string[];
}

const PAIR = /([A-Za-z_]+)=([^\s;,]+)/g;
const TOKEN = /^[a-z0-9_.-]{1,32}$/;

export function parseImageProperties(text: string | undefined): ParsedProperties {
  const properties: ImageInfo['properties'] = {};
  const problems: string[] = [];
  for (const m of (text ?? '').matchAll(PAIR)) {
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    switch (key) {
      case 'hypervisor_type':
        if (TOKEN.test(value.toLowerCase())) properties.hypervisorType = value.toLowerCase();
        else problems.push(`hypervisor_type=${value} is not a type name`);
        break;
      case 'architecture':
      case 'arch':
        if (TOKEN.test(value.toLowerCase())) properties.architecture = value.toLowerCase();
        else problems.push(`${key}=${value} is not an architecture`);
        break;
      case 'min_memory_mib':
      case 'min_ram': {
        const n = Number(value);
        if (Number.isInteger(n) && n >= 0 && n <= 64 * 1024 * 1024) properties.minMemoryMiB = n;
        else problems.push(`${key}=${value} is not a whole number of MiB`);
        break;
      }
      default:
        break;
    }
  }
  return { properties, problems };
}

/** The inverse, for admins who want to write a description: `hypervisor_type=kvm;architecture=x86_64`. */
export function formatImageProperties(p: ImageInfo['properties']): string {
  const out: string[] = [];
  if (p.hypervisorType) out.push(`hypervisor_type=${p.hypervisorType}`);
  if (p.architecture) out.push(`architecture=${p.architecture}`);
  if (p.minMemoryMiB !== undefined) out.push(`min_memory_mib=${p.minMemoryMiB}`);
  return out.join(';');
}
