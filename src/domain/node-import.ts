import { parse } from 'csv-parse/sync';
import type { NodeInput } from './node.js';

/**
 * Bulk node files. CSV has a header row naming the columns below (any order, unknown columns
 * refused); list cells (macs, groups) separate items with `|` or spaces, attributes are
 * `key=value` pairs separated by `|`. JSON is an array of objects with the same field names.
 */
/** A problem with one row of a bulk change (row 1 is a CSV file's header). */
export interface RowError {
  row: number;
  name?: string;
  field: string;
  message: string;
}

export interface ImportRow {
  /** Row in the file, for the error report. */
  row: number;
  input: NodeInput;
}

export const IMPORT_COLUMNS = ['name', 'macs', 'installMac', 'ip', 'groups', 'distro', 'arch', 'hypervisor', 'manager', 'cluster', 'storageInit', 'kernelArgs', 'attrs'] as const;

const list = (cell: string): string[] => cell.split(/[|\s]+/).filter(Boolean);
/** The fields a node record keeps as null (no IP, no distro, ...). */
const NULLABLE = new Set(['ip', 'distro', 'manager', 'cluster', 'storageInit']);

export function parseNodeFile(text: string, format: 'csv' | 'json'): { rows: ImportRow[]; errors: RowError[] } {
  return format === 'json' ? parseJson(text) : parseCsv(text);
}

function parseCsv(text: string): { rows: ImportRow[]; errors: RowError[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // info: the file line of each record, so the error report points where the admin looks.
    records = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: false, comment: '#', info: true }) as unknown as typeof records;
  } catch (err) {
    return { rows: [], errors: [{ row: 0, field: 'file', message: `not valid CSV: ${(err as Error).message}` }] };
  }
  const header = records[0]?.record;
  const body = records.slice(1);
  if (!header) return { rows: [], errors: [{ row: 0, field: 'file', message: 'empty file' }] };
  const unknown = header.filter((h) => !(IMPORT_COLUMNS as readonly string[]).includes(h));
  if (unknown.length || !header.includes('name')) {
    return { rows: [], errors: [{ row: 1, field: 'header', message: unknown.length ? `unknown columns: ${unknown.join(', ')} (known: ${IMPORT_COLUMNS.join(', ')})` : "the header must name a 'name' column" }] };
  }
  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  body.forEach(({ record: cells, info }) => {
    const row = info.lines;
    const get = (col: string): string | undefined => {
      const v = cells[header.indexOf(col)];
      return v === undefined || v === '' ? undefined : v;
    };
    const input: NodeInput = { name: get('name') ?? '' };
    const macs = get('macs');
    if (macs) input.macs = list(macs);
    const groups = get('groups');
    if (groups) input.groups = list(groups);
    for (const key of ['installMac', 'ip', 'distro', 'arch', 'hypervisor', 'manager', 'cluster', 'storageInit', 'kernelArgs'] as const) {
      const v = get(key);
      if (v !== undefined) input[key] = v;
    }
    const attrs = get('attrs');
    if (attrs) {
      input.attrs = {};
      for (const pair of attrs.split('|')) {
        const eq = pair.indexOf('=');
        if (eq <= 0) {
          errors.push({ row, name: input.name, field: 'attrs', message: `'${pair}' is not key=value` });
          return;
        }
        input.attrs[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
    }
    rows.push({ row, input });
  });
  return { rows, errors };
}

function parseJson(text: string): { rows: ImportRow[]; errors: RowError[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { rows: [], errors: [{ row: 0, field: 'file', message: `not valid JSON: ${(err as Error).message}` }] };
  }
  if (!Array.isArray(data)) return { rows: [], errors: [{ row: 0, field: 'file', message: 'the file must hold a JSON array of nodes' }] };
  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  data.forEach((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      errors.push({ row: i + 1, field: 'row', message: 'each node must be an object' });
      return;
    }
    const unknown = Object.keys(item).filter((k) => !(IMPORT_COLUMNS as readonly string[]).includes(k));
    if (unknown.length) {
      errors.push({ row: i + 1, name: String((item as { name?: unknown }).name ?? ''), field: unknown[0]!, message: `unknown field(s): ${unknown.join(', ')}` });
      return;
    }
    const o = item as Record<string, unknown>;
    // Only the fields a node keeps as null may be null: a null name, arch or kernelArgs would
    // reach the checks as something other than text.
    const bad = Object.entries(o).find(([k, v]) =>
      k === 'macs' || k === 'groups'
        ? !Array.isArray(v) || v.some((x) => typeof x !== 'string')
        : k === 'attrs'
          ? typeof v !== 'object' || v === null || Array.isArray(v)
          : typeof v !== 'string' && !(v === null && NULLABLE.has(k)),
    );
    if (bad) {
      errors.push({ row: i + 1, name: String(o.name ?? ''), field: bad[0], message: `field '${bad[0]}' has the wrong type` });
      return;
    }
    rows.push({ row: i + 1, input: o as unknown as NodeInput });
  });
  return { rows, errors };
}
