import type { Command } from 'commander';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

export function tokenCommand(program: Command, globals: () => GlobalOptions): void {
  const token = program.command('token').description('admin API tokens (stored hashed; shown once at creation)');

  token
    .command('create')
    .description('create a token and print it once')
    .argument('<name>')
    .action(async (name: string) => {
      await withContext(globals(), async ({ services }) => {
        const { token: secret } = await services.tokens.create(name);
        process.stdout.write(secret + '\n');
        process.stderr.write(`token '${name}' created; it is not stored and cannot be shown again\n`);
      });
    });

  token
    .command('ls')
    .description('list tokens (names and use, never the tokens)')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const all = (await services.tokens.list()).map(({ hash: _hash, ...rest }) => rest);
        if (opts.json) return printJson(all);
        printTable(['NAME', 'CREATED', 'LAST USED'], all.map((t) => [t.name, t.createdAt, t.lastUsedAt ?? 'never']));
      });
    });

  token
    .command('rm')
    .description('revoke a token')
    .argument('<name>')
    .action(async (name: string) => {
      await withContext(globals(), async ({ services }) => {
        await services.tokens.remove(name);
        process.stdout.write(`token '${name}' revoked\n`);
      });
    });
}
