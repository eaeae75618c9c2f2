/**
 * libvirt's documents (domain, capabilities, volume) in the shared XML tree (src/xml/tree.ts).
 * The domain XML we read back is written again (`define` after an edit, clones), so namespace
 * prefixes are kept (`<rb:template xmlns:rb=…>` in `<metadata>`).
 */
import { RhevbootError } from '../errors.js';
import { parseXml, text, type XEl } from '../xml/tree.js';

/** Reads one document virsh printed; libvirt never sends a DTD, and a malformed reply is an error, not a guess. */
export function parseLibvirtXml(doc: string, what: string): XEl {
  const r = parseXml(doc, { keepPrefixes: true });
  if (!r.ok) throw new RhevbootError('RB_ERR_LIBVIRT', `libvirt sent unreadable ${what} XML: ${r.reason}`);
  return r.value;
}

/** Memory in an element with libvirt's `unit` attribute, in MiB (libvirt's default unit is KiB). */
export function mib(n: XEl | undefined): number | undefined {
  const v = Number(text(n));
  if (!n || !Number.isFinite(v)) return undefined;
  const unit = (n.attrs.unit ?? 'KiB').toLowerCase();
  const factor: Record<string, number> = { b: 1 / 1048576, bytes: 1 / 1048576, k: 1 / 1024, kib: 1 / 1024, kb: 1000 / 1048576, m: 1, mib: 1, mb: 1e6 / 1048576, g: 1024, gib: 1024, gb: 1e9 / 1048576, t: 1048576, tib: 1048576 };
  const f = factor[unit];
  return f === undefined ? undefined : Math.floor(v * f);
}
