import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { descriptorSchema, type DistroDescriptor } from '../domain/distro.js';
import { RhevbootError } from '../errors.js';

/** The package's own distro/ directory (src/media or dist/media are two levels below the root). */
export const BUILTIN_DISTRO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../distro');

/** Parses one descriptor; a bad one is refused with its file and line, never half-loaded. */
export function parseDescriptor(file: string, text: string): DistroDescriptor {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new RhevbootError('RB_ERR_CONFIG', `${file}:${e.linePos?.[0]?.line ?? '?'}: not valid YAML: ${e.message.split('\n')[0]}`, { file });
  }
  const parsed = descriptorSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // Point at the deepest node of the offending path that exists in the file.
    let line: number | undefined;
    for (let n = issue.path.length; n >= 0 && line === undefined; n--) {
      const node = doc.getIn(issue.path.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) line = lineCounter.linePos(node.range[0]).line;
    }
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new RhevbootError('RB_ERR_CONFIG', `${file}:${line ?? 1}: invalid distro descriptor at '${where}': ${issue.message}`, {
      file,
      line,
      key: where,
    });
  }
  return parsed.data;
}

/** Loads every `*.yaml` descriptor in `dir`, in name order (the first match wins at recognition). */
export function loadDescriptors(dir: string = BUILTIN_DISTRO_DIR): DistroDescriptor[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  } catch (err) {
    throw new RhevbootError('RB_ERR_CONFIG', `cannot read distro descriptors in ${dir}: ${(err as Error).message}`, { dir });
  }
  const out: DistroDescriptor[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    const d = parseDescriptor(file, readFileSync(file, 'utf8'));
    if (out.some((o) => o.family === d.family)) {
      throw new RhevbootError('RB_ERR_CONFIG', `${file}: family '${d.family}' is described twice in ${dir}`, { file });
    }
    out.push(d);
  }
  if (out.length === 0) throw new RhevbootError('RB_ERR_CONFIG', `no distro descriptors in ${dir}`, { dir });
  return out;
}
