import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { encrypt } from 'unixcrypt';
import { RhevbootError } from '../../errors.js';
import { SECRET_ADMIN_PASSWORD, SECRET_RHEVM_ADMIN_PASSWORD } from '../../services/boot-configs.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printTable } from '../output.js';

const KNOWN: Record<string, string> = {
  [SECRET_ADMIN_PASSWORD]: "RHEV-H 'admin' user password (adminpw=)",
  [SECRET_RHEVM_ADMIN_PASSWORD]: 'root password RHEV-M uses to reach the host (rhevm_admin_password=)',
};

/** Reads a line from a terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value));
        if (ch === '\u0003') return finish(() => reject(new RhevbootError('RB_ERR_INVALID', 'interrupted')));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = (then: () => void): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      then();
    };
    stdin.on('data', onData);
  });
}

/** The password: prompted without echo on a terminal, else one line from standard input. */
async function readSecret(): Promise<string> {
  let value: string;
  if (process.stdin.isTTY) {
    value = await promptHidden('password: ');
    if (value !== (await promptHidden('again: '))) throw new RhevbootError('RB_ERR_INVALID', 'the two passwords differ; nothing changed');
  } else {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (!value || value.includes('\n')) throw new RhevbootError('RB_ERR_INVALID', 'the password must be one non-empty line');
  return value;
}

export function secretCommand(program: Command, globals: () => GlobalOptions): void {
  const secret = program.command('secret').description('write-only secrets: installer passwords, stored only as SHA-512 crypt hashes');

  secret
    .command('set')
    .description(`set a password from standard input (${Object.keys(KNOWN).join(', ')})`)
    .argument('<name>')
    .action(async (name: string) => {
      if (!KNOWN[name]) throw new RhevbootError('RB_ERR_INVALID', `unknown secret '${name}'; known: ${Object.keys(KNOWN).join(', ')}`);
      const value = await readSecret();
      // Only the crypt hash is kept: the installer takes hashes, and nothing here needs the password back.
      const hash = encrypt(value, `$6$${randomBytes(12).toString('base64').replace(/[^A-Za-z0-9./]/g, '.').slice(0, 16)}`);
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
