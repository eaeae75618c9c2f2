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
      // A rejected promise nobody awaited is a bug, but not a reason to stop booting a rack: log
      // it and keep serving. A thrown exception leaves unknown state behind: stop cleanly and let
      // systemd restart the service (Restart=on-failure).
      process.on('unhandledRejection', (reason) => appliance.log.error({ err: reason }, 'unhandled promise rejection'));
      process.once('uncaughtException', (err) => {
        appliance.log.fatal({ err }, 'uncaught exception; stopping');
        process.exitCode = 1;
        void appliance.stop('uncaught exception').finally(() => process.exit(1));
      });
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
