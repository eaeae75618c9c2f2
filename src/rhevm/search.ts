/**
 * The engine's search language and collection URLs (ovirt-api.md §6, §4.2).
 *
 * - Queries are `field=value` terms joined by `and`; `*` is a wildcard (`name=rhevh1*`).
 * - Status values in searches are the engine's *internal* enum names: case-insensitive and without
 *   underscores (`status=pendingapproval`), although representations say `pending_approval`.
 * - The whole query is one URL-encoded `search` parameter (`name%3Dmyvm*`); in v3 `max` and
 *   `case_sensitive` are matrix parameters (`/api/vms;max=10?search=…`), in v4 query parameters.
 */
import type { ApiVersion } from './model.js';

export interface ListOptions {
  /** A ready engine query, or terms to AND together. */
  search?: string | Record<string, string | number | undefined>;
  max?: number;
  caseSensitive?: boolean;
}

/** `pending_approval` → `pendingapproval`: the form the search grammar understands. */
export function searchStatus(status: string): string {
  return status.replace(/_/g, '').toLowerCase();
}

/** Quote a value that would otherwise end the term (spaces); the engine's lexer accepts "…". */
function value(v: string): string {
  return /[\s"]/.test(v) ? `"${v.replace(/"/g, '')}"` : v;
}

export function searchQuery(terms: string | Record<string, string | number | undefined>): string {
  if (typeof terms === 'string') return terms;
  return Object.entries(terms)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${value(String(v))}`)
    .join(' and ');
}

/** `vms` + options → `vms?search=name%3Dx&max=5` (v4) or `vms;max=5?search=name%3Dx` (v3). */
export function collectionUrl(path: string, version: ApiVersion, opts: ListOptions = {}): string {
  const q = opts.search !== undefined ? searchQuery(opts.search) : '';
  const extra: [string, string][] = [];
  if (opts.max !== undefined) extra.push(['max', String(Math.max(0, Math.floor(opts.max)))]);
  if (opts.caseSensitive !== undefined) extra.push(['case_sensitive', String(opts.caseSensitive)]);
  let out = path;
  const query: string[] = [];
  if (version === 3) out += extra.map(([k, v]) => `;${k}=${v}`).join('');
  if (q !== '') query.push(`search=${encodeURIComponent(q)}`);
  if (version === 4) query.push(...extra.map(([k, v]) => `${k}=${encodeURIComponent(v)}`));
  return query.length ? `${out}?${query.join('&')}` : out;
}
