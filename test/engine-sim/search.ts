// The engine's search language, the part clients use (ovirt-api.md §6, §9.7):
//   name=foo*  address=10.0.0.5  status=pendingapproval  cluster=Default  a and b  a or b
//   sortby name asc|desc   page 2 (with max)   an optional "Hosts:" object prefix.
// Status values are the engine's internal enum names, case-insensitive, without underscores
// (`status=pendingapproval`, `status=installfailed`), while representations say pending_approval.
import { backendFailure } from './errors.js';

/** Field values of one entity, by search field name (per-object auto-completer fields, §6). */
export type Fields<T> = Record<string, (x: T) => string | string[] | undefined>;

interface Cond { field: string; op: '=' | '!='; value: string }

export interface SearchOptions { caseSensitive: boolean; max?: number }

export function search<T>(items: T[], query: string | null | undefined, fields: Fields<T>, opts: SearchOptions): T[] {
  let q = (query ?? '').trim().replace(/^\w+\s*:\s*/, '');
  let page: number | undefined;
  let sort: { field: string; desc: boolean } | undefined;
  q = q.replace(/\bpage\s+(\d+)\s*$/i, (_m, n: string) => ((page = Number(n)), '')).trim();
  q = q.replace(/\bsortby\s+(\w+)(?:\s+(asc|desc))?\s*$/i, (_m, f: string, d?: string) => ((sort = { field: f.toLowerCase(), desc: d?.toLowerCase() === 'desc' }), '')).trim();
  q = q.replace(/\bpage\s+(\d+)\s*$/i, (_m, n: string) => ((page = Number(n)), '')).trim();

  let out = items;
  if (q) {
    const alternatives = q.split(/\s+or\s+/i).map((alt) => alt.split(/\s+and\s+/i).map(parseCond));
    for (const conds of alternatives) for (const c of conds) if (!fields[c.field]) throw invalid(query!);
    out = items.filter((x) => alternatives.some((conds) => conds.every((c) => matches(x, c, fields, opts.caseSensitive))));
  }
  if (sort) {
    const f = fields[sort.field];
    if (!f) throw invalid(query!);
    const key = (x: T): string => String(f(x) ?? '');
    out = [...out].sort((a, b) => key(a).localeCompare(key(b)) * (sort!.desc ? -1 : 1));
  }
  if (opts.max !== undefined && opts.max >= 0) {
    const from = page ? (page - 1) * opts.max : 0;
    out = out.slice(from, from + opts.max);
  }
  return out;
}

function parseCond(s: string): Cond {
  const m = /^\s*([\w.]+)\s*(!=|=)\s*(?:"([^"]*)"|'([^']*)'|(\S+))\s*$/.exec(s);
  if (!m) throw invalid(s);
  return { field: m[1]!.toLowerCase(), op: m[2] as Cond['op'], value: m[3] ?? m[4] ?? m[5] ?? '' };
}

function matches<T>(x: T, c: Cond, fields: Fields<T>, caseSensitive: boolean): boolean {
  const raw = fields[c.field]!(x);
  const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]);
  const isStatus = c.field === 'status';
  const norm = (s: string): string => (isStatus ? s.replace(/_/g, '').toLowerCase() : caseSensitive ? s : s.toLowerCase());
  const pattern = new RegExp('^' + norm(c.value).split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  const hit = values.some((v) => pattern.test(norm(v)));
  return c.op === '=' ? hit : !hit;
}

/** The simulator's answer to a query it cannot parse: a 400 backend failure. */
function invalid(q: string) {
  return backendFailure(400, `Search query is invalid: ${q}`);
}
