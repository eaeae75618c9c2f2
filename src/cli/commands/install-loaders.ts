import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { aptInstallLine, installLoaders, loadersInUse, loadLoaderManifest, type InstallResult } from '../../media/loaders.js';
import type { GlobalOptions } from '../context.js';
import { printJson } from '../output.js';

/**
 * Whether the run failed: any refused (mismatching) file, or a loader this configuration serves
 * that could not be installed. A missing loader nobody is configured to get (syslinux.efi when
 * UEFI clients get ipxe.efi) is only reported, so a host without syslinux-efi can still succeed.
 */
export function installFailed(results: InstallResult[], inUse: Set<string>): boolean {
  return results.some((r) => r.status === 'mismatch' || (r.status === 'missing' && inUse.has(r.serveAs)));
}

export function installLoadersCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('install-loaders')
    .description("copy the boot loaders of boot/manifest.yaml from their Debian packages (or a mirror) into tftp.root, checking each one's sha256 and size first")
    .option('--from <dir>', 'read the loaders from this directory instead of the installed packages: DIR/<package path> (unpacked .debs) or DIR/<file name>')
    .option('--json', 'JSON output: one entry per loader')
    .action(async (opts: { from?: string; json?: boolean }) => {
      const { config } = loadConfig({ file: globals().config });
      const manifest = await loadLoaderManifest();
      const results = await installLoaders({ tftpRoot: config.tftp.root, manifest, ...(opts.from ? { from: path.resolve(opts.from) } : {}) });
      const inUse = loadersInUse(config.boot);
      const failed = installFailed(results, inUse);
      if (opts.json) {
        printJson({ tftpRoot: config.tftp.root, ok: !failed, loaders: results.map((r) => ({ ...r, inUse: inUse.has(r.serveAs) })) });
      } else {
        process.stdout.write(`tftp root: ${config.tftp.root}\n`);
        for (const r of results) {
          const unused = r.status === 'missing' && !inUse.has(r.serveAs) ? ' (not used by this configuration)' : '';
          process.stdout.write(`${r.status.padEnd(9)}  ${r.serveAs.padEnd(14)} ${r.message}${unused}\n`);
        }
        const missing = results.filter((r) => r.status === 'missing');
        if (missing.length && !opts.from) process.stdout.write(`to install the missing packages: ${aptInstallLine(missing.map((r) => r.package))}\n`);
        const count = (s: string): number => results.filter((r) => r.status === s).length;
        process.stdout.write(`${count('installed')} installed, ${count('unchanged')} unchanged, ${count('missing')} missing, ${count('mismatch')} refused\n`);
      }
      if (failed) process.exitCode = 1;
    });
}
