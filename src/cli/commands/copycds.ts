import type { Command } from 'commander';
import { withContext, type GlobalOptions } from '../context.js';
import { formatBytes } from '../output.js';
import { progressReporter } from '../progress.js';

interface CopycdsOptions {
  name?: string;
  arch?: string;
  force?: boolean;
  compress?: 'none' | 'gzip';
  json?: boolean;
  quiet?: boolean;
}

export function copycdsCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('copycds')
    .description('import a hypervisor ISO (RHEV-H) into <installDir>/<name>/<arch>/ and build its PXE initrd')
    .argument('<iso>', 'path of the ISO image')
    .option('-n, --name <name>', 'distro name (default: derived from the volume id or isolinux.cfg, e.g. rhevh6.5)')
    .option('-a, --arch <arch>', 'architecture (default: the distro family default, x86_64)')
    .option('-f, --force', 're-import even if this ISO is already imported, or replace a distro imported from another ISO')
    .option('--compress <mode>', 'compression of the ISO member appended to the initrd: none|gzip (default: media.initrdCompression)')
    .option('--json', 'print progress and the result as JSON lines on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (iso: string, opts: CopycdsOptions) => {
      if (opts.compress && opts.compress !== 'none' && opts.compress !== 'gzip') {
        program.error(`error: --compress must be none or gzip, not '${opts.compress}'`, { exitCode: 2 });
      }
      await withContext(globals(), async ({ services }) => {
        const reporter = progressReporter({ json: Boolean(opts.json), quiet: opts.quiet });
        const abort = new AbortController();
        // Ctrl-C aborts cleanly: the staging tree is removed and the job marked failed.
        const onSignal = (): void => abort.abort(new Error('interrupted by signal'));
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const outcome = await services.distros.importIso(
            { isoPath: iso, name: opts.name, arch: opts.arch, force: opts.force, compress: opts.compress },
            { onProgress: (p) => reporter.update(p), signal: abort.signal },
          );
          reporter.stop();
          if (opts.json) {
            process.stdout.write(JSON.stringify({ event: 'result', status: outcome.status, distro: outcome.distro, notes: outcome.notes }) + '\n');
            return;
          }
          for (const note of outcome.notes) process.stdout.write(`note: ${note}\n`);
          const d = outcome.distro;
          if (outcome.status === 'unchanged') return;
          process.stdout.write(
            `imported ${d.name}/${d.arch} (${d.family} ${d.version || '?'}, volume '${d.volumeId}') into ${d.treePath}\n` +
              `  iso sha256 ${d.isoSha256}\n` +
              `  ${d.fileCount} files, ${formatBytes(d.bytes)} in ${(d.durationMs / 1000).toFixed(1)} s\n` +
              `  kernel ${d.kernel}, PXE initrd ${d.pxeInitrd} (${formatBytes(d.pxeInitrdBytes)})\n`,
          );
        } finally {
          reporter.stop();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}
