/**
 * Engine bodies as the shared XML tree (src/xml/tree.ts): the v4 JSON reader, the body sniffer,
 * and the property readers the decoders use.
 *
 * v3 and v4 XML and v4 JSON are all read into the same tree, namespace prefixes removed; the
 * decoders then ask for a property without caring whether it was an attribute (v3 `major="3"`)
 * or an element (v4 `<major>4</major>`, JSON `"major": "4"`). Reading never throws: a garbled or
 * hostile body gives `{ ok: false, reason }` (DESIGN.md: codecs return an error value).
 */
import { el, find, kids, parseXml, text, textEl, type Parsed, type XEl } from '../xml/tree.js';

/** Bodies above this are refused: the largest real listing (thousands of VMs) is a few MiB. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Real documents nest < 15 deep; the limit keeps the recursive walk safe from hostile nesting. */
const MAX_DEPTH = 64;

/** Parse an XML body into a tree with exactly one root element. */
export function parseEngineXml(body: string): Parsed<XEl> {
  return parseXml(body, { maxChars: MAX_BODY_BYTES });
}

/**
 * Parse a v4 JSON body (§1.3) into the same tree. `rootName` names the root because JSON has none:
 * `{"vm": [...]}` read as root `vms` gives `vm` children, exactly like `<vms><vm/>…</vms>`.
 * `id`, `href` and `rel` become attributes (they are attributes in XML); scalars may arrive as
 * strings (`"mtu": "0"`) or as numbers/booleans, and both read the same.
 */
export function parseJson(body: string, rootName: string): Parsed<XEl> {
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

function fromJson(name: string, value: unknown, depth: number): XEl | 'too-deep' {
  if (depth > MAX_DEPTH) return 'too-deep';
  if (value === null || typeof value !== 'object') return textEl(name, value === null ? '' : String(value));
  const out = el(name);
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
export function parseBody(body: string, jsonRootName: string): Parsed<XEl> {
  const first = body.trimStart()[0];
  if (first === '{') return parseJson(body, jsonRootName);
  if (first === '<') return parseEngineXml(body);
  return { ok: false, reason: first === undefined ? 'empty body' : 'body is neither XML nor JSON' };
}

// ---- properties -------------------------------------------------------------------------------

/** A property spelled either as an attribute (v3, and `id`/`href` everywhere) or as a child element. */
export function prop(n: XEl | undefined, name: string): string | undefined {
  if (!n) return undefined;
  const a = n.attrs[name];
  if (a !== undefined) return a;
  return text(find(n, name));
}

/** Walk `a/b/c` through child elements, reading the last step as a property. */
export function path(n: XEl | undefined, p: string): string | undefined {
  const steps = p.split('/');
  const last = steps.pop()!;
  return prop(steps.length > 0 ? find(n, steps.join('/')) : n, last);
}

/**
 * An order-insensitive canonical form for comparing documents "semantically": the engine and the
 * SDK readers are order-insensitive (§10), so two bodies that differ only in element order are equal.
 */
export function canonical(n: XEl): string {
  const attrs = Object.keys(n.attrs)
    .sort()
    .map((k) => `@${k}=${JSON.stringify(n.attrs[k])}`);
  const body = text(n);
  const children = kids(n).map(canonical).sort();
  return `${n.name}(${[...attrs, body ? `#${JSON.stringify(body)}` : '', ...children].filter(Boolean).join(',')})`;
}
