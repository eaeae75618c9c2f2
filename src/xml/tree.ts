/**
 * The one XML element tree rhevboot reads and writes, over fast-xml-parser: RHEV-M / oVirt bodies
 * (src/rhevm/xml.ts) and libvirt's domain, capabilities and volume documents (src/virt/).
 *
 * Element order and the position of character data are kept, because libvirt's domain XML is
 * read, edited and defined again. Text is trimmed and whitespace-only text dropped: neither the
 * engine nor libvirt gives indentation a meaning, and both re-indent what they are sent.
 *
 * Both peers' documents are untrusted input, so reading never throws: a garbled or hostile
 * document gives `{ ok: false, reason }` (DESIGN.md: codecs return an error value), and each
 * caller turns that into its own error.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XEl {
  name: string;
  attrs: Record<string, string>;
  /** Child elements and character data, in document order; never an empty string once parsed. */
  children: (XEl | string)[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Documents above this are refused: the largest real ones (engine listings of thousands of VMs) are a few MiB. */
export const MAX_XML_CHARS = 32 * 1024 * 1024;
/** Real documents nest < 15 deep; the limit keeps the recursive walk safe from hostile nesting. */
const MAX_DEPTH = 64;

function parser(removeNSPrefix: boolean): XMLParser {
  return new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    removeNSPrefix,
    // Only the five XML entities; neither peer sends a DTD, and one is refused before parsing.
    processEntities: true,
    htmlEntities: false,
  });
}

const withoutPrefixes = parser(true);
const withPrefixes = parser(false);

export interface ParseOptions {
  /**
   * Keep namespace prefixes (`<rb:template xmlns:rb=…>`), for documents that are written back.
   * By default they are removed, so an element reads by its local name whatever the sender's prefix.
   */
  keepPrefixes?: boolean;
  /** Longest document accepted, in characters (default MAX_XML_CHARS). */
  maxChars?: number;
}

/** Parses a document with exactly one root element. */
export function parseXml(doc: string, opts: ParseOptions = {}): Parsed<XEl> {
  const maxChars = opts.maxChars ?? MAX_XML_CHARS;
  if (doc.length > maxChars) return { ok: false, reason: `XML larger than ${maxChars} characters` };
  // A DTD is how entity-expansion attacks start; no engine and no libvirt ever sends one.
  if (/<!DOCTYPE|<!ENTITY/i.test(doc)) return { ok: false, reason: 'XML with a DTD is refused' };
  try {
    const valid = XMLValidator.validate(doc);
    if (valid !== true) return { ok: false, reason: `malformed XML: ${valid.err.msg} (line ${valid.err.line})` };
    const raw: unknown = (opts.keepPrefixes ? withPrefixes : withoutPrefixes).parse(doc);
    const roots: XEl[] = [];
    for (const item of Array.isArray(raw) ? raw : []) {
      const n = fromOrdered(item, 0);
      if (n === TOO_DEEP) return { ok: false, reason: 'XML nested too deeply' };
      if (typeof n === 'object' && n !== null) roots.push(n);
    }
    if (roots.length !== 1) return { ok: false, reason: roots.length === 0 ? 'no root element' : 'more than one root element' };
    return { ok: true, value: roots[0]! };
  } catch (err) {
    return { ok: false, reason: `malformed XML: ${(err as Error).message}` };
  }
}

const TOO_DEEP = Symbol('too deep');

/** fast-xml-parser's preserveOrder shape: `{ tag: [children], ':@': {attrs} }` or `{ '#text': s }`. */
function fromOrdered(item: unknown, depth: number): XEl | string | null | typeof TOO_DEEP {
  if (item === null || typeof item !== 'object') return null;
  const rec = item as Record<string, unknown>;
  if ('#text' in rec) return String(rec['#text']);
  const tag = Object.keys(rec).find((k) => k !== ':@');
  if (tag === undefined) return null;
  if (depth > MAX_DEPTH) return TOO_DEEP;
  const attrs: Record<string, string> = {};
  const a = rec[':@'];
  if (a && typeof a === 'object') for (const [k, v] of Object.entries(a as Record<string, unknown>)) attrs[k] = String(v);
  const children: (XEl | string)[] = [];
  for (const k of Array.isArray(rec[tag]) ? (rec[tag] as unknown[]) : []) {
    const c = fromOrdered(k, depth + 1);
    if (c === TOO_DEEP) return c;
    if (c !== null && c !== '') children.push(c);
  }
  return { name: tag, attrs, children };
}

// ---- writing ----------------------------------------------------------------------------------

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values are written in double quotes; `'` is escaped too, so a value survives either quoting. */
function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function openTag(n: XEl): string {
  return `<${n.name}${Object.entries(n.attrs)
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join('')}`;
}

/**
 * Serialises a tree, without a declaration (neither the engine nor virsh needs one). Compact by
 * default, the way the engine is sent bodies; `pretty` puts each element on its own line, for the
 * files handed to virsh, whose errors cite a line number.
 */
export function toXml(n: XEl, opts: { pretty?: boolean } = {}): string {
  return opts.pretty ? pretty(n, '') : compact(n);
}

function compact(n: XEl): string {
  const inner = n.children.map((c) => (typeof c === 'string' ? escapeText(c) : compact(c))).join('');
  return inner === '' ? `${openTag(n)}/>` : `${openTag(n)}>${inner}</${n.name}>`;
}

function pretty(n: XEl, indent: string): string {
  if (n.children.length === 0) return `${indent}${openTag(n)}/>\n`;
  if (n.children.every((c) => typeof c === 'string')) return `${indent}${openTag(n)}>${escapeText(n.children.join(''))}</${n.name}>\n`;
  const inner = n.children.map((c) => (typeof c === 'string' ? `${indent}  ${escapeText(c)}\n` : pretty(c, `${indent}  `))).join('');
  return `${indent}${openTag(n)}>\n${inner}${indent}</${n.name}>\n`;
}

// ---- building and walking ---------------------------------------------------------------------

/** An element; undefined attributes and undefined/false children are left out, so optional parts read inline. */
export function el(name: string, attrs: Record<string, string | number | undefined> = {}, children: (XEl | string | undefined | false)[] = []): XEl {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = String(v);
  return { name, attrs: a, children: children.filter((c): c is XEl | string => c !== undefined && c !== false) };
}

/** `<name>value</name>`. */
export function textEl(name: string, value: string | number | boolean): XEl {
  return { name, attrs: {}, children: [String(value)] };
}

/** The child elements (named `name`, when given). */
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

/** The character data directly inside an element, joined; `''` for an empty one. */
export function text(n: XEl): string;
export function text(n: XEl | undefined): string | undefined;
export function text(n: XEl | undefined): string | undefined {
  return n ? n.children.filter((c): c is string => typeof c === 'string').join('') : undefined;
}

export function setText(n: XEl, value: string): void {
  n.children = [value];
}

/** Removes the direct children `name` (all of them, or those `remove` picks). */
export function removeKids(n: XEl, name: string, remove: (c: XEl) => boolean = () => true): void {
  n.children = n.children.filter((c) => typeof c === 'string' || c.name !== name || !remove(c));
}
