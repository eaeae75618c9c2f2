import type { Command } from 'commander';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

export function hypervisorCommand(program: Command, globals: () => GlobalOptions): void {
  const hv = program.command('hypervisor').description('hosts in the engines, for admins who want to step into a hand-off');

  hv.command('ls')
    .description('hosts of every engine (or one), matched to nodes')
    .option('--engine <name>', 'only this engine')
    .option('--json', 'JSON output')
    .action(async (o: { engine?: string; json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const hosts = await services.hypervisors.list(o.engine);
        if (o.json) return printJson(hosts);
        printTable(['ENGINE', 'HOST', 'ADDRESS', 'STATUS', 'NODE'], hosts.map((h) => [h.engine, h.name, h.address ?? '-', `${h.status ?? '?'}${h.statusDetail ? ` (${h.statusDetail})` : ''}`, h.node ?? '-']));
      });
    });

  hv.command('approve')
    .description("approve a node's host into the node's cluster now")
    .argument('<node>')
    .action(async (name: string) => {
      await withContext(globals(), async ({ services }) => {
        const h = await services.hypervisors.approve(name);
        process.stdout.write(`host ${h.name} approved: ${h.status}\n`);
      });
    });

  hv.command('rm')
    .description("remove a node's host from its engine (moved to maintenance first)")
    .argument('<node>')
    .action(async (name: string) => {
      await withContext(globals(), async ({ services }) => {
        await services.hypervisors.remove(name);
        process.stdout.write(`host of ${name} removed\n`);
      });
    });
}
