import type { Command } from 'commander';
import { startAppliance } from '../../appliance.js';
import { loadConfig } from '../../config/load.js';
import type { GlobalOptions } from '../context.js';

export function serveCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the appliance (HTTP: health, admin API) until SIGTERM or SIGINT')
    .action(async () => {
      const loaded = loadConfig({ file: globals().config });
      if (globals().logLevel) loaded.config.log.level = globals().logLevel as typeof loaded.config.log.level;
      const appliance = await startAppliance(loaded);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          appliance.stop(`received ${signal}`).then(resolve, (err: unknown) => {
            appliance.log.error({ err }, 'error while stopping');
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
