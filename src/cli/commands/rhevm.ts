import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { RhevbootError } from '../../errors.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';
import { confirm, readSecret } from '../prompt.js';

export function rhevmCommand(program: Command, globals: () => GlobalOptions): void {
  const rhevm = program.command('rhevm').description('RHEV-M / oVirt engines that installed hosts are handed to');

  rhevm
    .command('add')
    .description('add (or replace) an engine; the password is prompted without echo, or read from stdin')
    .argument('<name>')
    .requiredOption('--url <url>', 'https://engine.example.com (the API path is detected)')
    .requiredOption('--user <user@domain>', 'e.g. admin@internal')
    .option('--ca-file <pem>', "the engine's CA certificate, if you have it; otherwise pin it with `rhevm test`")
    .action(async (name: string, o: { url: string; user: string; caFile?: string }) => {
      const caPem = o.caFile ? await readFile(o.caFile, 'utf8').catch((err: Error) => Promise.reject(new RhevbootError('RB_ERR_INVALID', `cannot read --ca-file: ${err.message}`))) : undefined;
      const password = await readSecret();
      await withContext(globals(), async ({ services }) => {
        const e = await services.engines.add({ name, url: o.url, username: o.user, password, ...(caPem !== undefined ? { caPem } : {}) });
        process.stdout.write(`engine ${e.name}: ${e.url} as ${e.username}${e.caPinned ? `, CA pinned (SHA-256 ${e.caFingerprint})` : ''}\n`);
        if (e.url.startsWith('http:')) process.stderr.write('warning: plain http: credentials and hosts travel unprotected (use this for labs only)\n');
        else if (!e.caPinned) process.stderr.write(`next: rhevboot rhevm test ${e.name}  (shows the engine CA's fingerprint and pins it when you confirm)\n`);
      });
    });

  rhevm
    .command('ls')
    .description('list engines (never their passwords)')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const engines = await services.engines.list();
        if (o.json) return printJson(engines);
        printTable(['NAME', 'URL', 'USER', 'API', 'CA'], engines.map((e) => [e.name, e.url, e.username, e.apiVersion ?? '-', e.caPinned ? `pinned ${e.caFingerprint!.slice(0, 23)}…` : e.url.startsWith('http:') ? '(plain http)' : 'NOT PINNED']));
      });
    });

  rhevm
    .command('show')
    .description('one engine')
    .argument('<name>')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const e = await services.engines.get(name);
        if (o.json) return printJson(e);
        for (const [k, v] of [
          ['name', e.name],
          ['url', e.url],
          ['user', e.username],
          ['password', '(set; write-only)'],
          ['api', e.apiVersion ?? '(not detected yet: rhevm test)'],
          ['ca', e.caPinned ? `SHA-256 ${e.caFingerprint}` : 'not pinned'],
          ['updated', e.updatedAt],
        ]) process.stdout.write(`${k!.padEnd(9)} ${v}\n`);
      });
    });

  rhevm
    .command('rm')
    .description('remove an engine (refused while nodes name it, unless --force)')
    .argument('<name>')
    .option('--force', 'remove even though nodes name it')
    .action(async (name: string, o: { force?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        await services.engines.remove(name, { force: o.force === true });
        process.stdout.write(`engine ${name} removed\n`);
      });
    });

  rhevm
    .command('test')
    .description("fetch the engine's CA and show its fingerprint (pinned only when you confirm, or with --fingerprint), then log in and detect the API")
    .argument('<name>')
    .option('--fingerprint <sha256>', 'pin the CA only if its SHA-256 fingerprint is this (no question asked)')
    .action(async (name: string, o: { fingerprint?: string }) => {
      await withContext(globals(), async ({ services }) => {
        const e = await services.engines.get(name);
        if (e.url.startsWith('https:')) {
          const ca = await services.engines.fetchCa(name);
          process.stdout.write(`engine CA   ${ca.subject.replace(/\n/g, ', ')}\n            valid until ${ca.notAfter}\n            SHA-256 ${ca.sha256}\n            SHA-1   ${ca.sha1}\n`);
          if (e.caPinned && e.caFingerprint === ca.sha256 && !o.fingerprint) {
            process.stdout.write('            matches the pinned CA\n');
          } else {
            if (e.caPinned) process.stderr.write(`warning: the engine now presents a different CA than the one pinned (${e.caFingerprint})\n`);
            const wanted = o.fingerprint ?? ((await confirm('Is this the CA of your engine (compare the fingerprint on the engine: /etc/pki/ovirt-engine/ca.pem)?')) ? ca.sha256 : undefined);
            if (!wanted) throw new RhevbootError('RB_ERR_INVALID', process.stdin.isTTY ? 'not confirmed: nothing pinned' : 'not a terminal: pass --fingerprint with the SHA-256 you expect; nothing pinned');
            await services.engines.pinCa(name, ca, wanted);
            process.stdout.write('            pinned\n');
          }
        }
        const api = await services.engines.test(name);
        process.stdout.write(`login       ok as ${e.username}\napi         v${api.version} at ${api.path}${api.productName ? ` (${api.productName}${api.productVersion ? ` ${api.productVersion}` : ''})` : ''}\n`);
      });
    });
}
