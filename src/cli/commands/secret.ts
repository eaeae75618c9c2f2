import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { encrypt } from 'unixcrypt';
import { RhevbootError } from '../../errors.js';
import { SECRET_ADMIN_PASSWORD, SECRET_RHEVM_ADMIN_PASSWORD } from '../../provisioning/boot-configs.js';
import { SECRET_HOST_ROOT_PASSWORD, SECRET_PM_PASSWORD } from '../../management/registration.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printTable } from '../output.js';
import { readSecret } from '../prompt.js';

const KNOWN: Record<string, string> = {
  [SECRET_ADMIN_PASSWORD]: "RHEV-H 'admin' user password (adminpw=)",
  [SECRET_RHEVM_ADMIN_PASSWORD]: 'root password RHEV-M uses to reach the host (rhevm_admin_password=)',
  [SECRET_HOST_ROOT_PASSWORD]: 'the same root password in clear, only to add a host that never registered itself (optional)',
  [SECRET_PM_PASSWORD]: "the nodes' BMC (IPMI) password the engine fences with, for nodes with a pm.address attribute (optional)",
};
/** Kept as given, because the engine needs the password itself (to SSH in, §8.4; to reach the BMC). */
const PLAIN = new Set([SECRET_HOST_ROOT_PASSWORD, SECRET_PM_PASSWORD]);

export function secretCommand(program: Command, globals: () => GlobalOptions): void {
  const secret = program.command('secret').description('write-only secrets: installer passwords (stored as SHA-512 crypt hashes) and the optional host root password');

  secret
    .command('set')
    .description(`set a password from standard input (${Object.keys(KNOWN).join(', ')})`)
    .argument('<name>')
    .action(async (name: string) => {
      if (!KNOWN[name]) throw new RhevbootError('RB_ERR_INVALID', `unknown secret '${name}'; known: ${Object.keys(KNOWN).join(', ')}`);
      const value = await readSecret();
      // Only the crypt hash is kept where the installer takes hashes and nothing needs the password back.
      const hash = PLAIN.has(name) ? value : encrypt(value, `$6$${randomBytes(12).toString('base64').replace(/[^A-Za-z0-9./]/g, '.').slice(0, 16)}`);
      await withContext(globals(), async ({ store, services }) => {
        await store.transaction(async (tx) => {
          await tx.secrets.set(name, hash);
          await services.events.record({ kind: 'secret.set', subjectType: 'secret', subject: name, message: `secret ${name} set`, data: {} }, tx);
        });
        process.stdout.write(`${name} set\n`);
      });
    });

  secret
    .command('ls')
    .description('list secrets and when they were set (never their values)')
    .action(async () => {
      await withContext(globals(), async ({ store }) => {
        const set = new Map((await store.secrets.list()).map((s) => [s.name, s.updatedAt]));
        printTable(['NAME', 'SET', 'MEANING'], Object.entries(KNOWN).map(([n, meaning]) => [n, set.get(n) ?? 'not set', meaning]));
      });
    });

  secret
    .command('rm')
    .description('remove a secret')
    .argument('<name>')
    .action(async (name: string) => {
      await withContext(globals(), async ({ store }) => {
        if (!(await store.secrets.remove(name))) throw new RhevbootError('RB_ERR_NOT_FOUND', `secret '${name}' is not set`);
        process.stdout.write(`${name} removed\n`);
      });
    });
}
