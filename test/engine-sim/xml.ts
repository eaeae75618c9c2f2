// Wire formats of the simulated engine: an element tree (El) that the representations build, its
// XML and JSON renderings, and the parsed request body (Node) with lookup helpers.
//
// ovirt-api.md §4.1: only `id` and `href` are attributes in v4, everything else is an element;
// real documents start with the standalone="yes" declaration; §1.3: JSON objects carry id/href
// as plain keys, collections are {"<singular>": [...]}, scalars are emitted as *strings*.
// §4.2: v3 uses attributes for version/topology/os/boot/mac/ip, so El keeps attributes generic.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { V3_ORDER } from './v3-order.js';

export interface El {
  name: string;
  attrs?: Record<string, string>;
  text?: string;
  children?: El[];
  /** JSON: render the children as one array keyed by their element name (collections, usages…). */
  list?: boolean;
}

type Scalar = string | number | boolean;

export function el(name: string, attrs?: Record<string, Scalar | undefined> | null, children?: (El | null | undefined | false)[]): El {
  const out: El = { name };
  if (attrs) {
    const a: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = String(v);
    if (Object.keys(a).length) out.attrs = a;
  }
  if (children) out.children = children.filter((c): c is El => !!c);
  return out;
}

/** `<name>value</name>`, or nothing when the value is undefined (optional attribute not set). */
export function t(name: string, value: Scalar | undefined | null): El | null {
  return value === undefined || value === null ? null : { name, text: String(value) };
}

export function listEl(name: string, children: (El | null)[], attrs?: Record<string, string>): El {
  const e = el(name, attrs, children);
  e.list = true;
  return e;
}

const escText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escAttr = (s: string): string => escText(s).replace(/"/g, '&quot;');

/**
 * v3 documents are JAXB output of the 3.6 XSD (ovirt-api.md §4.2): children of a complex type
 * appear in xs:sequence order, which a validating reader (and `xmllint --schema`) enforces. The
 * representations build children in v4 order; this puts them in the schema's order for v3.
 */
function orderV3(e: El): El {
  const order = V3_ORDER[e.name];
  let children = e.children?.map(orderV3);
  if (order && children && children.length > 1) {
    const rank = (c: El): number => {
      const i = order.indexOf(c.name);
      return i < 0 ? order.length : i;
    };
    children = children.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i).map((x) => x.c);
  }
  return { ...e, ...(children ? { children } : {}) };
}

export function toXml(root: El, opts: { v3?: boolean } = {}): string {
  const doc = opts.v3 ? orderV3(root) : root;
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'];
  const walk = (e: El, depth: number): void => {
    const pad = '    '.repeat(depth);
    const attrs = Object.entries(e.attrs ?? {}).map(([k, v]) => ` ${k}="${escAttr(v)}"`).join('');
    if (e.text !== undefined) {
      lines.push(`${pad}<${e.name}${attrs}>${escText(e.text)}</${e.name}>`);
    } else if (!e.children?.length) {
      lines.push(`${pad}<${e.name}${attrs}/>`);
    } else {
      lines.push(`${pad}<${e.name}${attrs}>`);
      for (const c of e.children) walk(c, depth + 1);
      lines.push(`${pad}</${e.name}>`);
    }
  };
  walk(doc, 0);
  return lines.join('\n') + '\n';
}

/** Element names that are always arrays in the engine's JSON, even with one member (§1.3). */
const JSON_ARRAYS = new Set(['link']);

type Json = string | Json[] | { [k: string]: Json };

function jsonValue(e: El): Json {
  if (e.text !== undefined && !e.attrs && !e.children?.length) return e.text;
  const obj: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(e.attrs ?? {})) obj[k] = v;
  if (e.text !== undefined) obj['value'] = e.text;
  const groups = new Map<string, El[]>();
  for (const c of e.children ?? []) groups.set(c.name, [...(groups.get(c.name) ?? []), c]);
  for (const [name, members] of groups) {
    obj[name] = e.list || JSON_ARRAYS.has(name) || members.length > 1 ? members.map(jsonValue) : jsonValue(members[0]!);
  }
  return obj;
}

/** v4 JSON rendering: the root element's content, without the root name (§1.3). */
export function toJson(root: El): string {
  return JSON.stringify(jsonValue(root), null, 2) + '\n';
}

// ---- request bodies --------------------------------------------------------------------------

export interface Node {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: Node[];
}

export class BodySyntaxError extends Error {}

type Ordered = Record<string, unknown>;
const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, parseAttributeValue: false, trimValues: true, processEntities: true });

function fromOrdered(item: Ordered): Node | null {
  const name = Object.keys(item).find((k) => k !== ':@');
  if (!name || name === '#text' || name.startsWith('?')) return null;
  const node: Node = { name, attrs: { ...((item[':@'] as Record<string, string>) ?? {}) }, text: '', children: [] };
  for (const c of (item[name] as Ordered[]) ?? []) {
    if ('#text' in c) node.text += String(c['#text']);
    else {
      const n = fromOrdered(c);
      if (n) node.children.push(n);
    }
  }
  return node;
}

function fromJson(name: string, v: unknown): Node[] {
  if (Array.isArray(v)) return v.flatMap((x) => fromJson(name, x));
  if (v !== null && typeof v === 'object') {
    const node: Node = { name, attrs: {}, text: '', children: [] };
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if ((k === 'id' || k === 'href') && typeof x !== 'object') node.attrs[k] = String(x);
      else node.children.push(...fromJson(k, x));
    }
    return [node];
  }
  return [{ name, attrs: {}, text: v === null || v === undefined ? '' : String(v), children: [] }];
}

/**
 * Parses an XML (or, for v4, JSON) request body. `rootName` names the JSON root, which JSON lacks.
 * Throws BodySyntaxError for anything unparseable (§5.4 "Request syntactically incorrect.").
 */
export function parseBody(body: string, contentType: string | undefined, rootName: string): Node {
  if (/json/i.test(contentType ?? '')) {
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch (e) {
      throw new BodySyntaxError((e as Error).message);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BodySyntaxError('JSON body is not an object');
    return fromJson(rootName, v)[0]!;
  }
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new BodySyntaxError(valid.err.msg);
  const items = parser.parse(body) as Ordered[];
  const root = items.map(fromOrdered).find((n): n is Node => n !== null);
  if (!root) throw new BodySyntaxError('no root element');
  return root;
}

export function child(n: Node | undefined, name: string): Node | undefined {
  return n?.children.find((c) => c.name === name);
}

export function children(n: Node | undefined, name: string): Node[] {
  return n?.children.filter((c) => c.name === name) ?? [];
}

/** Text at a dotted path ("cluster.name"), or an attribute with "@" ("cluster.@id"). */
export function get(n: Node | undefined, path: string): string | undefined {
  let cur = n;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.startsWith('@')) return cur?.attrs[p.slice(1)];
    cur = child(cur, p);
    if (!cur) return undefined;
  }
  return cur?.text;
}

/** A reference given "by id attribute or by <name> child" (§4.1 References). */
export function ref(n: Node | undefined, name: string): { id?: string; name?: string } | undefined {
  const r = child(n, name);
  if (!r) return undefined;
  const id = r.attrs['id'] ?? get(r, 'id');
  const nm = get(r, 'name');
  if (id === undefined && nm === undefined) return undefined;
  return { ...(id !== undefined ? { id } : {}), ...(nm !== undefined ? { name: nm } : {}) };
}

/** §1.3: booleans accept true|false|t|f|yes|no|y|n|1|0, case-insensitive. */
export function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (['true', 't', 'yes', 'y', '1', ''].includes(s)) return true;
  if (['false', 'f', 'no', 'n', '0'].includes(s)) return false;
  return undefined;
}
