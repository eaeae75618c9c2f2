import type { Command } from 'commander';
import { knownSecret, SECRETS } from '../../provisioning/secrets.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printTable } from '../output.js';
import { readSecret } from '../prompt.js';

export function secretCommand(program: Command, globals: () => GlobalOptions): void {
  const secret = program.command('secret').description('write-only secrets: installer passwords (stored as SHA-512 crypt hashes) and the optional host root password');

  secret
    .command('set')
    .description(`set a password from standard input (${Object.keys(SECRETS).join(', ')})`)
    .argument('<name>')
    .action(async (name: string) => {
      knownSecret(name);
      await withContext(globals(), async ({ services }) => {
        await services.secrets.set(name, await readSecret());
        process.stdout.write(`${name} set\n`);
      });
    });

  secret
    .command('ls')
    .description('list secrets and when they were set (never their values)')
    .action(async () => {
      await withContext(globals(), async ({ services }) => {
        printTable(['NAME', 'SET', 'MEANING'], (await services.secrets.list()).map((s) => [s.name, s.setAt ?? 'not set', s.meaning]));
      });
    });

  secret
    .command('rm')
    .description('remove a secret')
    .argument('<name>')
    .action(async (name: string) => {
      await withContext(globals(), async ({ services }) => {
        await services.secrets.remove(name);
        process.stdout.write(`${name} removed\n`);
      });
    });
}
