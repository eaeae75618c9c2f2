/**
 * Noderanges as xCAT admins write them:
 *   n01,n02          a list                  n[01-40]     a bracket range (zero padding kept)
 *   n01-n40          a dash range            rack3        a group's members
 *   all              every node              all,-rack3   exclusions, applied left to right
 * Pure: the caller supplies the known node names and group memberships.
 */

export class NoderangeError extends Error {}

const MAX_EXPANSION = 100_000;

type Term = { kind: 'all' } | { kind: 'names'; names: string[] } | { kind: 'word'; word: string };

/** `n[01-40]` and `n01-n40` expand; anything else is returned as-is. */
function expandRange(item: string): string[] | undefined {
  const bracket = /^([^[\]]*)\[(\d+)-(\d+)\]([^[\]]*)$/.exec(item);
  if (bracket) {
    const [, prefix, from, to, suffix] = bracket as unknown as [string, string, string, string, string];
    return numbered(prefix, from, to, suffix, item);
  }
  const dash = /^([a-z0-9.-]*?[a-z.-])(\d+)-\1(\d+)$/i.exec(item);
  if (dash) {
    const [, prefix, from, to] = dash as unknown as [string, string, string, string];
    return numbered(prefix, from, to, '', item);
  }
  return undefined;
}

function numbered(prefix: string, from: string, to: string, suffix: string, item: string): string[] {
  const a = Number(from);
  const b = Number(to);
  if (b < a) throw new NoderangeError(`range '${item}' runs backwards`);
  if (b - a + 1 > MAX_EXPANSION) throw new NoderangeError(`range '${item}' expands to more than ${MAX_EXPANSION} names`);
  // Zero padding follows the first bound, as xCAT does: n[01-10] gives n01..n10, n[1-10] gives n1..n10.
  const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(`${prefix}${String(i).padStart(width, '0')}${suffix}`);
  return out;
}

/** Splits on commas outside brackets. */
function splitItems(expr: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of expr) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      items.push(cur);
      cur = '';
    } else cur += ch;
  }
  items.push(cur);
  return items.map((s) => s.trim());
}

function parse(expr: string): { exclude: boolean; term: Term; text: string }[] {
  if (!expr.trim()) throw new NoderangeError('empty noderange');
  return splitItems(expr).map((raw) => {
    if (!raw) throw new NoderangeError(`empty item in noderange '${expr}'`);
    const exclude = raw.startsWith('-');
    const text = exclude ? raw.slice(1) : raw;
    if (!text) throw new NoderangeError(`'-' without a name in noderange '${expr}'`);
    if (text === 'all') return { exclude, term: { kind: 'all' }, text };
    const range = expandRange(text);
    return { exclude, term: range ? { kind: 'names', names: range } : { kind: 'word', word: text }, text };
  });
}

export interface Universe {
  /** Known node names. */
  nodes: Iterable<string>;
  /** Group name -> member node names. */
  groups: Map<string, string[]>;
}

/**
 * Resolves a noderange against the known nodes and groups, in order. A word that is both a node
 * and a group means the node. Unknown names are an error listing them all, never silently dropped.
 */
export function resolveNoderange(expr: string, universe: Universe): string[] {
  const known = new Set(universe.nodes);
  const selected = new Set<string>();
  const unknown: string[] = [];
  for (const { exclude, term, text } of parse(expr)) {
    let names: string[];
    if (term.kind === 'all') names = [...known];
    else if (term.kind === 'names') {
      names = term.names.filter((n) => known.has(n));
      if (names.length === 0) unknown.push(text);
    } else if (known.has(term.word)) names = [term.word];
    else if (universe.groups.has(term.word)) names = universe.groups.get(term.word)!;
    else {
      unknown.push(term.word);
      names = [];
    }
    for (const n of names) exclude ? selected.delete(n) : selected.add(n);
  }
  if (unknown.length) throw new NoderangeError(`no node or group named ${unknown.map((u) => `'${u}'`).join(', ')}`);
  return [...selected].sort(compareNodeNames);
}

/** The names a noderange spells out, for creating nodes (no groups, no `all`, no exclusions). */
export function expandNames(expr: string): string[] {
  const out: string[] = [];
  for (const { exclude, term, text } of parse(expr)) {
    if (exclude || term.kind === 'all') throw new NoderangeError(`'${exclude ? '-' : ''}${text}' cannot name new nodes`);
    out.push(...(term.kind === 'names' ? term.names : [term.word]));
  }
  return [...new Set(out)];
}

/**
 * Why a word cannot be the name of one node or one group, or undefined: a noderange would read
 * it as something else (every node, a list, an exclusion, a range), so the thing it names could
 * never be addressed alone, and a PATCH meant for it would reach others.
 */
export function notOneName(word: string): string | undefined {
  if (word.toLowerCase() === 'all') return "'all' is reserved: in a noderange it means every node";
  if (/[,[\]]/.test(word) || word.startsWith('-')) return `'${word}' holds noderange syntax (',', '[', ']' or a leading '-')`;
  let range: string[] | undefined;
  try {
    range = expandRange(word);
  } catch (err) {
    // n3-n1, n1-n999999: still read as a range, one the parser then refuses.
    if (err instanceof NoderangeError) return `'${word}' reads as a range in a noderange (${err.message})`;
    throw err;
  }
  if (range) return `'${word}' reads as the range ${range[0]}..${range.at(-1)} in a noderange`;
  return undefined;
}

/** n2 before n10: numeric runs compare as numbers. */
export function compareNodeNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
