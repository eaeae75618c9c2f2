import type { Command } from 'commander';
import { withContext, type GlobalOptions } from '../context.js';
import { formatBytes, printJson, printTable } from '../output.js';

export function distroCommand(program: Command, globals: () => GlobalOptions): void {
  const distro = program.command('distro').description('list, show and remove imported distros');

  distro
    .command('ls')
    .description('list imported distros')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const all = await services.distros.list();
        if (opts.json) return printJson(all);
        printTable(
          ['NAME', 'ARCH', 'FAMILY', 'VERSION', 'VOLUME ID', 'ISO SHA256', 'SIZE', 'IMPORTED'],
          all.map((d) => [d.name, d.arch, d.family, d.version, d.volumeId, d.isoSha256.slice(0, 12), formatBytes(d.isoBytes), d.importedAt]),
        );
      });
    });

  distro
    .command('show')
    .description('show one distro')
    .argument('<name>')
    .option('-a, --arch <arch>', 'architecture, when the name exists for several')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { arch?: string; json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const d = await services.distros.get(name, opts.arch);
        if (opts.json) return printJson(d);
        const rows: [string, string][] = [
          ['name', d.name],
          ['arch', d.arch],
          ['family', d.family],
          ['version', d.version],
          ['volume id', d.volumeId],
          ['imported from', d.sourcePath],
          ['iso sha256', d.isoSha256],
          ['iso size', `${d.isoBytes} (${formatBytes(d.isoBytes)})`],
          ['tree', d.treePath],
          ['files', `${d.fileCount} (${formatBytes(d.bytes)})`],
          ['kernel', d.kernel],
          ['initrd', d.initrd],
          ['pxe initrd', `${d.pxeInitrd} (${formatBytes(d.pxeInitrdBytes)}, sha256 ${d.pxeInitrdSha256})`],
          ['imported at', d.importedAt],
          ['import took', `${(d.durationMs / 1000).toFixed(1)} s`],
        ];
        for (const [k, v] of rows) process.stdout.write(`${k.padEnd(14)} ${v}\n`);
      });
    });

  distro
    .command('rm')
    .description('unregister a distro and delete its tree')
    .argument('<name>')
    .option('-a, --arch <arch>', 'architecture, when the name exists for several')
    .action(async (name: string, opts: { arch?: string }) => {
      await withContext(globals(), async ({ services }) => {
        const d = await services.distros.remove(name, opts.arch);
        process.stdout.write(`removed ${d.name}/${d.arch} and ${d.treePath}\n`);
      });
    });
}
