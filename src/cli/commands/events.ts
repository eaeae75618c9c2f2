import type { Command } from 'commander';
import { RhevbootError } from '../../errors.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

export function eventsCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('events')
    .description("the event log; with a node, that node's timeline (DHCP, TFTP, HTTP, nodeset, trigger)")
    .argument('[node]')
    .option('--kind <prefix>', 'only events whose kind starts with this (e.g. dhcp, node.nodeset)')
    .option('--limit <n>', 'at most this many (the latest)', '100')
    .option('--json', 'JSON output')
    .action(async (name: string | undefined, o: { kind?: string; limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new RhevbootError('RB_ERR_INVALID', `--limit must be a whole number from 1 to 100000, not '${o.limit}'`);
      await withContext(globals(), async ({ services }) => {
        const node = name ? await services.nodes.get(name) : undefined;
        const events = await services.events.latest({ ...(node ? { subjectType: 'node', subject: node.name } : {}), ...(o.kind ? { kindPrefix: o.kind } : {}), limit });
        if (o.json) return printJson(events);
        printTable(
          ['TIME', 'KIND', 'SUBJECT', 'MESSAGE'],
          events.map((e) => [e.at, e.kind, `${e.subjectType}/${e.subject}`, e.message]),
        );
      });
    });
}
