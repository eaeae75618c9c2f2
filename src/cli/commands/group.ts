import type { Command } from 'commander';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

export function groupCommand(program: Command, globals: () => GlobalOptions): void {
  const group = program.command('group').description('groups of nodes, usable in any noderange');

  group
    .command('ls')
    .description('list groups and their members')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const groups = await services.groups.list();
        if (o.json) return printJson(groups);
        printTable(['GROUP', 'NODES', 'MEMBERS'], groups.map((g) => [g.name, String(g.members.length), g.members.join(',')]));
      });
    });

  group
    .command('add')
    .description('put the nodes of a noderange into a group (creating it)')
    .argument('<group>')
    .argument('<noderange>')
    .action(async (name: string, range: string) => {
      await withContext(globals(), async ({ services }) => {
        const joined = await services.groups.addMembers(name, range);
        process.stdout.write(`${joined.length} node(s) joined ${name}${joined.length ? `: ${joined.join(',')}` : ''}\n`);
      });
    });

  group
    .command('rm')
    .description('take the nodes of a noderange out of a group (all of them: the group is gone)')
    .argument('<group>')
    .argument('[noderange]')
    .action(async (name: string, range: string | undefined) => {
      await withContext(globals(), async ({ services }) => {
        const left = await services.groups.removeMembers(name, range);
        process.stdout.write(`${left.length} node(s) left ${name}${left.length ? `: ${left.join(',')}` : ''}\n`);
      });
    });
}
