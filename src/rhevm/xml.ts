/**
 * A neutral document tree for engine bodies, and the XML/JSON readers and the XML writer for it.
 *
 * Both v3 and v4 XML and v4 JSON are read into the same `XNode` tree; the decoders then ask for a
 * property without caring whether it was an attribute (v3 `major="3"`) or an element (v4
 * `<major>4</major>`, JSON `"major": "4"`). Reading never throws: a garbled or hostile body gives
 * `{ ok: false, reason }` (DESIGN.md: codecs return an error value).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  /** Concatenated, trimmed character data directly inside this element. */
  text: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Bodies above this are refused: the largest real listing (thousands of VMs) is a few MiB. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Real documents nest < 15 deep; the limit keeps the recursive walk safe from hostile nesting. */
const MAX_DEPTH = 64;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: true,
  // Only the five XML entities; the engine never sends a DTD, and one is refused below.
  processEntities: true,
  htmlEntities: false,
});

export function node(name: string, children: XNode[] = [], attrs: Record<string, string> = {}, text = ''): XNode {
  return { name, attrs, children, text };
}

export function textNode(name: string, value: string | number | boolean): XNode {
  return node(name, [], {}, String(value));
}

/** Parse an XML body into a tree with exactly one root element. */
export function parseXml(body: string): Parsed<XNode> {
  if (body.length > MAX_BODY_BYTES) return { ok: false, reason: `body larger than ${MAX_BODY_BYTES} bytes` };
  // A DTD is how entity-expansion attacks start; no engine ever sends one.
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) return { ok: false, reason: 'XML with a DTD is refused' };
  try {
    const valid = XMLValidator.validate(body);
    if (valid !== true) return { ok: false, reason: `malformed XML: ${valid.err.msg} (line ${valid.err.line})` };
    const raw: unknown = parser.parse(body);
    if (!Array.isArray(raw)) return { ok: false, reason: 'malformed XML' };
    const roots: XNode[] = [];
    for (const item of raw) {
      const n = fromOrdered(item, 0);
      if (n === 'too-deep') return { ok: false, reason: 'XML nested too deeply' };
      if (n) roots.push(n);
    }
    if (roots.length !== 1) return { ok: false, reason: roots.length === 0 ? 'no root element' : 'more than one root element' };
    return { ok: true, value: roots[0]! };
  } catch (err) {
    return { ok: false, reason: `malformed XML: ${(err as Error).message}` };
  }
}

/** fast-xml-parser's preserveOrder shape: `{ tag: [children], ':@': {attrs} }` or `{ '#text': s }`. */
function fromOrdered(item: unknown, depth: number): XNode | null | 'too-deep' {
  if (depth > MAX_DEPTH) return 'too-deep';
  if (item === null || typeof item !== 'object') return null;
  const rec = item as Record<string, unknown>;
  const tag = Object.keys(rec).find((k) => k !== ':@' && k !== '#text');
  if (tag === undefined) return null;
  const attrsRaw = rec[':@'];
  const attrs: Record<string, string> = {};
  if (attrsRaw && typeof attrsRaw === 'object') {
    for (const [k, v] of Object.entries(attrsRaw as Record<string, unknown>)) attrs[k] = String(v);
  }
  const out = node(tag, [], attrs);
  const kids = rec[tag];
  const texts: string[] = [];
  if (Array.isArray(kids)) {
    for (const k of kids) {
      if (k && typeof k === 'object' && '#text' in (k as object)) {
        texts.push(String((k as Record<string, unknown>)['#text']));
        continue;
      }
      const c = fromOrdered(k, depth + 1);
      if (c === 'too-deep') return c;
      if (c) out.children.push(c);
    }
  }
  out.text = texts.join('').trim();
  return out;
}

/**
 * Parse a v4 JSON body (§1.3) into the same tree. `rootName` names the root because JSON has none:
 * `{"vm": [...]}` read as root `vms` gives `vm` children, exactly like `<vms><vm/>…</vms>`.
 * `id`, `href` and `rel` become attributes (they are attributes in XML); scalars may arrive as
 * strings (`"mtu": "0"`) or as numbers/booleans, and both read the same.
 */
export function parseJson(body: string, rootName: string): Parsed<XNode> {
  if (body.length > MAX_BODY_BYTES) return { ok: false, reason: `body larger than ${MAX_BODY_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    return { ok: false, reason: `malformed JSON: ${(err as Error).message}` };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'JSON body is not an object' };
  const n = fromJson(rootName, raw, 0);
  if (n === 'too-deep') return { ok: false, reason: 'JSON nested too deeply' };
  return { ok: true, value: n };
}

const JSON_ATTRS = new Set(['id', 'href', 'rel']);

function fromJson(name: string, value: unknown, depth: number): XNode | 'too-deep' {
  if (depth > MAX_DEPTH) return 'too-deep';
  if (value === null || typeof value !== 'object') return textNode(name, value === null ? '' : String(value));
  const out = node(name);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    if (JSON_ATTRS.has(k) && typeof v !== 'object') {
      out.attrs[k] = String(v);
      continue;
    }
    const items = Array.isArray(v) ? v : [v];
    for (const item of items) {
      const c = fromJson(k, item, depth + 1);
      if (c === 'too-deep') return c;
      out.children.push(c);
    }
  }
  return out;
}

/** Parse a body whose format is given by its first character (`<` XML, `{` JSON). */
export function parseBody(body: string, jsonRootName: string): Parsed<XNode> {
  const first = body.trimStart()[0];
  if (first === '{') return parseJson(body, jsonRootName);
  if (first === '<') return parseXml(body);
  return { ok: false, reason: first === undefined ? 'empty body' : 'body is neither XML nor JSON' };
}

// ---- tree access --------------------------------------------------------------------------

export function child(n: XNode | undefined, name: string): XNode | undefined {
  return n?.children.find((c) => c.name === name);
}

export function childrenNamed(n: XNode | undefined, name: string): XNode[] {
  return n ? n.children.filter((c) => c.name === name) : [];
}

/** A property spelled either as an attribute (v3, and `id`/`href` everywhere) or as a child element. */
export function prop(n: XNode | undefined, name: string): string | undefined {
  if (!n) return undefined;
  const a = n.attrs[name];
  if (a !== undefined) return a;
  const c = child(n, name);
  return c ? c.text : undefined;
}

/** Walk `a/b/c` through child elements, reading the last step as a property. */
export function path(n: XNode | undefined, p: string): string | undefined {
  const steps = p.split('/');
  let cur = n;
  for (const s of steps.slice(0, -1)) cur = child(cur, s);
  return prop(cur, steps[steps.length - 1]!);
}

// ---- writing --------------------------------------------------------------------------------

function esc(s: string, attr: boolean): string {
  const t = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return attr ? t.replace(/"/g, '&quot;') : t;
}

/** Serialise a tree to XML, without a declaration (the engine does not need one on input). */
export function toXml(n: XNode): string {
  const attrs = Object.entries(n.attrs)
    .map(([k, v]) => ` ${k}="${esc(v, true)}"`)
    .join('');
  if (n.children.length === 0 && n.text === '') return `<${n.name}${attrs}/>`;
  return `<${n.name}${attrs}>${esc(n.text, false)}${n.children.map(toXml).join('')}</${n.name}>`;
}

/**
 * An order-insensitive canonical form for comparing documents "semantically": the engine and the
 * SDK readers are order-insensitive (§10), so two bodies that differ only in element order are equal.
 */
export function canonical(n: XNode): string {
  const attrs = Object.keys(n.attrs)
    .sort()
    .map((k) => `@${k}=${JSON.stringify(n.attrs[k])}`);
  const kids = n.children.map(canonical).sort();
  return `${n.name}(${[...attrs, n.text ? `#${JSON.stringify(n.text)}` : '', ...kids].filter(Boolean).join(',')})`;
}
