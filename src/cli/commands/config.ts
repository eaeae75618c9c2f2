import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { CONFIG_KEYS, envNameFor } from '../../config/keys.js';
import { configExampleYaml } from '../../config/example.js';
import type { GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

function valueAt(config: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], config);
}

export function configCommand(program: Command, globals: () => GlobalOptions): void {
  const config = program.command('config').description('show and check the configuration');

  config
    .command('show')
    .description('the effective configuration: every key, its value and where the value came from')
    .option('--json', 'JSON output (the effective configuration only)')
    .action((opts: { json?: boolean }) => {
      const loaded = loadConfig({ file: globals().config });
      if (opts.json) return printJson(loaded.config);
      process.stdout.write(`config file: ${loaded.file ?? '(none: embedded defaults)'}\n`);
      printTable(
        ['KEY', 'VALUE', 'SOURCE', 'ENVIRONMENT'],
        CONFIG_KEYS.map((k) => [k.key, k.secret ? '[redacted]' : JSON.stringify(valueAt(loaded.config, k.key)), loaded.sources[k.key] ?? '', envNameFor(k.key)]),
      );
    });

  config
    .command('example')
    .description('print a YAML configuration with every key at its default, each with its meaning as a comment')
    .action(() => {
      process.stdout.write(configExampleYaml());
    });

  config
    .command('check')
    .description('validate the configuration and exit 0, or print what is wrong and exit 1')
    .action(() => {
      const loaded = loadConfig({ file: globals().config });
      process.stdout.write(`ok: ${loaded.file ?? 'embedded defaults'}\n`);
    });
}
