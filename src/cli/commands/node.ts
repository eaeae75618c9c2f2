import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseNodeFile } from '../../domain/node-import.js';
import { nodeView, type NodeInput, type NodeRecord } from '../../domain/node.js';
import { expandNames, NoderangeError } from '../../domain/noderange.js';
import { isRhevbootError, RhevbootError } from '../../errors.js';
import type { RowError } from '../../provisioning/nodes.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

interface FieldOptions {
  mac?: string;
  installMac?: string;
  ip?: string;
  groups?: string;
  distro?: string;
  arch?: string;
  hypervisor?: string;
  manager?: string;
  cluster?: string;
  storageInit?: string;
  kernelArgs?: string;
  attr?: string[];
}

const csv = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The node fields given on the command line, as a NodeInput fragment. */
function fieldsFrom(o: FieldOptions): Omit<NodeInput, 'name'> {
  const out: Omit<NodeInput, 'name'> = {};
  if (o.mac !== undefined) out.macs = csv(o.mac);
  if (o.installMac !== undefined) out.installMac = o.installMac;
  if (o.ip !== undefined) out.ip = o.ip;
  if (o.groups !== undefined) out.groups = csv(o.groups);
  for (const k of ['distro', 'arch', 'hypervisor', 'manager', 'cluster', 'storageInit', 'kernelArgs'] as const) if (o[k] !== undefined) out[k] = o[k];
  if (o.attr) {
    out.attrs = {};
    for (const pair of o.attr) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new RhevbootError('RB_ERR_INVALID', `--attr '${pair}' is not key=value`);
      out.attrs[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return out;
}

function withFieldOptions(cmd: Command): Command {
  return cmd
    .option('--mac <macs>', 'MAC address(es), comma-separated; the first is the install NIC')
    .option('--install-mac <mac>', 'which MAC the installer uses (BOOTIF)')
    .option('--ip <ip>', 'IPv4 address (reserved in DHCP)')
    .option('--groups <groups>', 'groups, comma-separated')
    .option('--distro <name>', 'distro to install, e.g. rhevh6.5')
    .option('--arch <arch>', 'architecture (default x86_64)')
    .option('--hypervisor <type>', 'hypervisor type (default rhevh)')
    .option('--manager <engine>', 'RHEV-M engine the host joins')
    .option('--cluster <cluster>', 'RHEV-M cluster')
    .option('--storage-init <disk>', "storage_init target ('' = first disk)")
    .option('--kernel-args <args>', 'extra kernel arguments')
    .option('--attr <key=value...>', 'free-form attributes');
}

function reportRows(errors: RowError[]): void {
  for (const e of errors) process.stderr.write(`row ${e.row}${e.name ? ` (${e.name})` : ''}: ${e.field}: ${e.message}\n`);
}

function nodeRow(n: NodeRecord): string[] {
  const install = n.nics.find((x) => x.install)?.mac ?? '-';
  return [n.name, install, String(n.nics.length), n.ip ?? '-', n.groups.join(',') || '-', n.distro ? `${n.distro}/${n.arch}` : '-', n.bootAction, n.status];
}

export function nodeCommand(program: Command, globals: () => GlobalOptions): void {
  const node = program.command('node').description('define, list, change and remove nodes');

  withFieldOptions(node.command('add').description('define a node (or a range of nodes without MACs/IPs, e.g. n[01-40])').argument('<names>', 'node name or range')).action(
    async (names: string, o: FieldOptions) => {
      await withContext(globals(), async ({ services }) => {
        let list: string[];
        try {
          list = expandNames(names);
        } catch (err) {
          if (err instanceof NoderangeError) throw new RhevbootError('RB_ERR_INVALID', err.message);
          throw err;
        }
        const fields = fieldsFrom(o);
        if (list.length > 1 && (fields.macs || fields.ip)) throw new RhevbootError('RB_ERR_INVALID', '--mac and --ip name one node; add ranges without them');
        try {
          const { added } = await services.nodes.add(list.map((name) => ({ ...fields, name })));
          process.stdout.write(`added ${added.length} node${added.length === 1 ? '' : 's'}: ${added.join(', ')}\n`);
        } catch (err) {
          if (isRhevbootError(err) && Array.isArray(err.details.errors)) reportRows(err.details.errors as RowError[]);
          throw err;
        }
      });
    },
  );

  node
    .command('ls')
    .description('list nodes')
    .argument('[noderange]')
    .option('--json', 'JSON output')
    .action(async (range: string | undefined, o: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const nodes = await services.nodes.list(range);
        if (o.json) return printJson(nodes.map(nodeView));
        printTable(['NAME', 'INSTALL MAC', 'NICS', 'IP', 'GROUPS', 'DISTRO', 'BOOT', 'STATUS'], nodes.map(nodeRow));
      });
    });

  node
    .command('show')
    .description('show one node')
    .argument('<name>')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const n = await services.nodes.get(name);
        if (o.json) return printJson(nodeView(n));
        const rows: [string, string][] = [
          ['name', n.name],
          ['nics', n.nics.map((x) => `${x.mac}${x.install ? ' (install)' : ''}`).join(', ') || '-'],
          ['ip', n.ip ?? '-'],
          ['groups', n.groups.join(', ') || '-'],
          ['distro', n.distro ? `${n.distro}/${n.arch}` : '-'],
          ['hypervisor', n.hypervisor],
          ['manager', n.manager ? `${n.manager}${n.cluster ? ` / ${n.cluster}` : ''}` : '-'],
          ['storage_init', n.storageInit === '' ? '(first disk)' : (n.storageInit ?? '-')],
          ['kernel args', n.kernelArgs || '-'],
          ['attributes', Object.entries(n.attrs).map(([k, v]) => `${k}=${v}`).join(' ') || '-'],
          ['boot', n.bootAction],
          ['status', `${n.status}${n.statusReason ? ` (${n.statusReason})` : ''}`],
          ['updated', n.updatedAt],
        ];
        for (const [k, v] of rows) process.stdout.write(`${k.padEnd(13)} ${v}\n`);
      });
    });

  withFieldOptions(node.command('set').description('change nodes').argument('<noderange>')).action(async (range: string, o: FieldOptions) => {
    await withContext(globals(), async ({ services }) => {
      const fields = fieldsFrom(o);
      if (Object.keys(fields).length === 0) throw new RhevbootError('RB_ERR_INVALID', 'nothing to change: give at least one field option');
      const changed = await services.nodes.set(range, fields);
      process.stdout.write(`changed ${changed.length} node${changed.length === 1 ? '' : 's'}\n`);
    });
  });

  node
    .command('rm')
    .description('remove nodes')
    .argument('<noderange>')
    .action(async (range: string) => {
      await withContext(globals(), async ({ services }) => {
        const removed = await services.nodes.remove(range);
        process.stdout.write(`removed ${removed.length} node${removed.length === 1 ? '' : 's'}: ${removed.join(', ')}\n`);
      });
    });

  node
    .command('import')
    .description('add nodes from a CSV or JSON file in one transaction; any bad row refuses all unless --skip-bad')
    .argument('<file>')
    .option('--format <format>', 'csv or json (default: from the file name)')
    .option('--skip-bad', 'add the good rows and report the bad ones')
    .option('--json', 'print the outcome as JSON')
    .action(async (file: string, o: { format?: string; skipBad?: boolean; json?: boolean }) => {
      const format = (o.format ?? (file.endsWith('.json') ? 'json' : 'csv')) as 'csv' | 'json';
      if (format !== 'csv' && format !== 'json') throw new RhevbootError('RB_ERR_INVALID', `--format must be csv or json, not '${o.format}'`);
      const text = await readFile(file, 'utf8').catch((err: Error) => {
        throw new RhevbootError('RB_ERR_INVALID', `cannot read ${file}: ${err.message}`);
      });
      const parsed = parseNodeFile(text, format);
      await withContext(globals(), async ({ services }) => {
        try {
          const { added, errors } = await services.nodes.add(
            parsed.rows.map((r) => r.input),
            { skipBad: o.skipBad, rowNumbers: parsed.rows.map((r) => r.row), priorErrors: parsed.errors },
          );
          if (o.json) return printJson({ added: added.length, errors });
          reportRows(errors);
          process.stdout.write(`imported ${added.length} node${added.length === 1 ? '' : 's'}${errors.length ? `, skipped ${new Set(errors.map((e) => e.row)).size} bad rows` : ''}\n`);
        } catch (err) {
          if (isRhevbootError(err) && Array.isArray(err.details.errors)) {
            if (o.json) printJson({ added: 0, errors: err.details.errors });
            else reportRows(err.details.errors as RowError[]);
          }
          throw err;
        }
      });
    });

  program
    .command('nodeset')
    .description('set what nodes boot next: install, local, next (after an install: local) or discover')
    .argument('<noderange>')
    .argument('<action>', 'install | local | next | discover')
    .action(async (range: string, action: string) => {
      if (!['install', 'local', 'next', 'discover'].includes(action)) {
        throw new RhevbootError('RB_ERR_INVALID', `action must be install, local, next or discover, not '${action}'`);
      }
      await withContext(globals(), async ({ services }) => {
        const changes = await services.nodes.nodeset(range, action as 'install' | 'local' | 'next' | 'discover');
        for (const c of changes) process.stdout.write(`${c.name}: ${c.from} -> ${c.to}\n`);
      });
    });
}
