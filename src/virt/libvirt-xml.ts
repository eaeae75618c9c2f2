/**
 * A small ordered XML tree for libvirt documents (domain, capabilities, volume), with a reader and
 * an escaping writer. The domain XML we read back is written again (`define` after an edit, clones),
 * so unlike the engine codec this keeps namespace prefixes (`<rb:template xmlns:rb=…>` in
 * `<metadata>`), element order and text positions; whitespace-only text is dropped (libvirt
 * re-indents anyway).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { RhevbootError } from '../errors.js';

export interface XEl {
  name: string;
  attrs: Record<string, string>;
  children: (XEl | string)[];
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: false,
  processEntities: true,
  htmlEntities: false,
});

const MAX_DEPTH = 64;

/** Reads one document; libvirt never sends a DTD, and a malformed reply is an error, not a guess. */
export function parseXml(text: string, what: string): XEl {
  const fail = (reason: string): never => {
    throw new RhevbootError('RB_ERR_LIBVIRT', `libvirt sent unreadable ${what} XML: ${reason}`);
  };
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) fail('a DTD');
  const valid = XMLValidator.validate(text);
  if (valid !== true) fail(`${valid.err.msg} (line ${valid.err.line})`);
  const raw: unknown = parser.parse(text);
  const roots = (Array.isArray(raw) ? raw : []).map((r) => fromOrdered(r, 0)).filter((r): r is XEl => typeof r === 'object' && r !== null);
  if (roots.length !== 1) fail('not exactly one root element');
  return roots[0]!;
}

function fromOrdered(item: unknown, depth: number): XEl | string | null {
  if (depth > MAX_DEPTH) throw new RhevbootError('RB_ERR_LIBVIRT', 'libvirt XML nested too deeply');
  if (item === null || typeof item !== 'object') return null;
  const rec = item as Record<string, unknown>;
  if ('#text' in rec) return String(rec['#text']);
  const tag = Object.keys(rec).find((k) => k !== ':@');
  if (tag === undefined || tag.startsWith('?') || tag === '#comment') return null;
  const attrs: Record<string, string> = {};
  const a = rec[':@'];
  if (a && typeof a === 'object') for (const [k, v] of Object.entries(a as Record<string, unknown>)) attrs[k] = String(v);
  const kids = Array.isArray(rec[tag]) ? (rec[tag] as unknown[]) : [];
  const children = kids.map((k) => fromOrdered(k, depth + 1)).filter((k): k is XEl | string => k !== null && k !== '');
  return { name: tag, attrs, children };
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function toXml(n: XEl, indent = ''): string {
  const attrs = Object.entries(n.attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  if (n.children.length === 0) return `${indent}<${n.name}${attrs}/>\n`;
  if (n.children.every((c) => typeof c === 'string')) return `${indent}<${n.name}${attrs}>${escapeXml(n.children.join(''))}</${n.name}>\n`;
  const inner = n.children.map((c) => (typeof c === 'string' ? `${indent}  ${escapeXml(c)}\n` : toXml(c, `${indent}  `))).join('');
  return `${indent}<${n.name}${attrs}>\n${inner}${indent}</${n.name}>\n`;
}

// ---- building and walking ------------------------------------------------------------------

export function el(name: string, attrs: Record<string, string | number | undefined> = {}, children: (XEl | string | undefined | false)[] = []): XEl {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = String(v);
  return { name, attrs: a, children: children.filter((c): c is XEl | string => c !== undefined && c !== false) };
}

export function kids(n: XEl | undefined, name?: string): XEl[] {
  return n ? n.children.filter((c): c is XEl => typeof c === 'object' && (name === undefined || c.name === name)) : [];
}

/** The first element along `a/b/c`. */
export function find(n: XEl | undefined, path: string): XEl | undefined {
  let cur = n;
  for (const step of path.split('/')) cur = kids(cur, step)[0];
  return cur;
}

/** Every element at `a/b/c` (all matches at the last step, first match before it). */
export function findAll(n: XEl | undefined, path: string): XEl[] {
  const steps = path.split('/');
  const last = steps.pop()!;
  return kids(steps.length > 0 ? find(n, steps.join('/')) : n, last);
}

export function text(n: XEl | undefined): string | undefined {
  return n ? n.children.filter((c): c is string => typeof c === 'string').join('') : undefined;
}

export function setText(n: XEl, value: string): void {
  n.children = [value];
}

/** Removes the direct children `name` (all of them, or those `keep` rejects). */
export function removeKids(n: XEl, name: string, remove: (c: XEl) => boolean = () => true): void {
  n.children = n.children.filter((c) => typeof c === 'string' || c.name !== name || !remove(c));
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
