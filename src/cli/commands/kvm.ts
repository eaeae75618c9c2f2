import type { Command } from 'commander';
import { MANAGER_NAME } from '../../domain/node.js';
import { RhevbootError } from '../../errors.js';
import { LIBVIRT_URI, LibvirtDriver } from '../../virt/libvirt-driver.js';
import { withContext, type CommandContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

/** A libvirt manager's record, or a clear error when the name is free or is a RHEV-M engine. */
async function libvirtRecord(ctx: CommandContext, name: string) {
  const e = await ctx.store.engines.get(name);
  if (!e) throw new RhevbootError('RB_ERR_NOT_FOUND', `no KVM host named ${name}`, { name });
  if (e.kind !== 'libvirt') throw new RhevbootError('RB_ERR_INVALID', `${name} is a RHEV-M engine, not a KVM host (see rhevboot rhevm)`, { name });
  return e;
}

/**
 * Plain KVM hosts managed through libvirt (`virsh -c URI`), kept next to the RHEV-M engines in the
 * `engines` table with kind `libvirt`. No password: qemu+ssh uses the service user's ssh keys.
 */
export function kvmCommand(program: Command, globals: () => GlobalOptions): void {
  const kvm = program.command('kvm').description('plain KVM hosts managed through libvirt (virsh over qemu+ssh://)');

  kvm
    .command('add')
    .description('add (or change the URI of) a KVM host')
    .argument('<name>')
    .requiredOption('--uri <uri>', 'libvirt URI: qemu+ssh://root@kvm01/system (ssh keys of the rhevboot user), qemu+tcp://, qemu:///system, test:///default')
    .action(async (name: string, o: { uri: string }) => {
      if (!MANAGER_NAME.test(name)) throw new RhevbootError('RB_ERR_INVALID', `KVM host name '${name}' must be letters, digits, '_', '.' or '-'`, { field: 'name' });
      if (!LIBVIRT_URI.test(o.uri) || /^qemu\+unix:/.test(o.uri)) throw new RhevbootError('RB_ERR_INVALID', `'${o.uri}' is not a libvirt URI rhevboot uses: qemu+ssh://, qemu+tcp://, qemu+tls://, qemu:/// or test:///`, { field: 'uri' });
      await withContext(globals(), async (ctx) => {
        await ctx.store.transaction(async (tx) => {
          const old = await tx.engines.get(name);
          if (old && old.kind !== 'libvirt') throw new RhevbootError('RB_ERR_CONFLICT', `${name} is already a RHEV-M engine`, { name });
          await tx.engines.put({ name, kind: 'libvirt', url: o.uri, username: '', password: '', caPem: null, caFingerprint: null, apiVersion: null });
          await ctx.services.events.record({ kind: old ? 'engine.changed' : 'engine.added', subjectType: 'engine', subject: name, message: `KVM host ${name} ${old ? 'changed' : 'added'}: ${o.uri}`, data: { kind: 'libvirt', url: o.uri } }, tx);
        });
        process.stdout.write(`kvm ${name}: ${o.uri}\n`);
        if (o.uri.startsWith('qemu+tcp:')) process.stderr.write('warning: qemu+tcp is unauthenticated and unencrypted unless libvirtd requires SASL (use qemu+ssh or qemu+tls outside a lab)\n');
        process.stderr.write(`next: rhevboot kvm test ${name}\n`);
      });
    });

  kvm
    .command('ls')
    .description('list KVM hosts')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      await withContext(globals(), async ({ store }) => {
        const hosts = (await store.engines.list()).filter((e) => e.kind === 'libvirt').map((e) => ({ name: e.name, uri: e.url, createdAt: e.createdAt, updatedAt: e.updatedAt }));
        if (o.json) return printJson(hosts);
        printTable(['NAME', 'URI', 'UPDATED'], hosts.map((h) => [h.name, h.uri, h.updatedAt]));
      });
    });

  kvm
    .command('rm')
    .description('remove a KVM host (its VMs stay on it; refused while nodes name it, unless --force)')
    .argument('<name>')
    .option('--force', 'remove even though nodes name it')
    .action(async (name: string, o: { force?: boolean }) => {
      await withContext(globals(), async (ctx) => {
        await libvirtRecord(ctx, name);
        await ctx.services.engines.remove(name, { force: o.force === true });
        process.stdout.write(`kvm ${name} removed\n`);
      });
    });

  kvm
    .command('test')
    .description('connect with virsh and show what is on the other end')
    .argument('<name>')
    .action(async (name: string) => {
      await withContext(globals(), async (ctx) => {
        const e = await libvirtRecord(ctx, name);
        const driver = new LibvirtDriver({ name, uri: e.url, log: ctx.log, commandTimeoutMs: 30_000 });
        try {
          const d = await driver.describe();
          const n = d.nodeinfo;
          for (const [k, v] of [
            ['uri', e.url],
            ['hostname', d.hostname],
            ['hypervisor', d.version.get('running hypervisor') ?? '?'],
            ['libvirt', d.version.get('using library') ?? '?'],
            ['arch', `${d.arch} (domain types: ${d.domainTypes.join(', ') || 'none'})`],
            ['cpus', `${n.cpus} (${n.sockets} socket(s) x ${n.coresPerSocket} core(s) x ${n.threadsPerCore} thread(s), ${n.cpuModel}, ${n.mhz} MHz, ${n.numaCells} NUMA cell(s))`],
            ['memory', `${n.memoryMiB} MiB`],
            ['domains', String(d.domains)],
          ]) process.stdout.write(`${k!.padEnd(11)} ${v}\n`);
          if (!d.domainTypes.includes('kvm') && !e.url.startsWith('test:')) process.stderr.write('warning: no kvm domain type: guests would run emulated (is /dev/kvm there?)\n');
        } finally {
          await driver.close();
        }
      });
    });
}
