import type { Command } from 'commander';
import { explainLines } from '../../domain/placement.js';
import type { VmChanges } from '../../virt/driver.js';
import type { PlanView, VmCreateRequest, VmResult } from '../../management/vms.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';
import { collect, parseBoot, parseCpus, parseDisk, parseNic, parseSizeMiB } from '../vm-args.js';

interface MkOptions {
  manager?: string;
  host?: string;
  template?: string;
  cluster?: string;
  memory: string;
  cpus?: string;
  os?: string;
  boot?: string;
  display?: 'vnc' | 'spice';
  disk?: string[];
  nic?: string[];
  weigher?: 'spread' | 'pack';
  arch?: string;
  explain?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * One line per VM (`vm01: up on h1`, `vm02: error CODE: <the engine's words>`); exit 1 when any
 * VM failed, with a count on stderr, so a script sees partial failure of a noderange.
 */
function report(results: VmResult[], json?: boolean): void {
  if (json) printJson(results);
  else for (const r of results) process.stdout.write(r.ok ? `${r.name}: ${r.message}\n` : `${r.name}: error ${r.error!.code}: ${r.message}\n`);
  const failed = results.filter((r) => !r.ok).length;
  if (failed) {
    process.stderr.write(`${failed} of ${results.length} VM(s) failed\n`);
    process.exitCode = 1;
  }
}

function printPlan(plan: PlanView): void {
  for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const p of plan.placements) process.stdout.write(explainLines(p).join('\n') + '\n');
}

export function vmCommand(program: Command, globals: () => GlobalOptions): void {
  const vm = program.command('vm').description('virtual machines on RHEV-M engines and libvirt hosts; each VM is also a node');

  vm.command('mk')
    .description('create VMs (without --manager/--host they are placed across all managers) and record them as nodes')
    .argument('<names>', 'a name or a noderange of new names, e.g. vm[01-10]')
    .option('--manager <name>', 'create on this manager (its scheduler picks the host at start)')
    .option('--host <name>', 'create on this host (its manager is found)')
    .option('--template <name>', 'template / image (default Blank)')
    .option('--cluster <name>', 'cluster (default: the host’s, else Default)')
    .option('--memory <size>', 'memory, e.g. 2G or 512M', '1G')
    .option('--cpus <S:C:T>', 'sockets[:cores[:threads]]')
    .option('--os <type>', 'engine OS type, e.g. rhel_7x64')
    .option('--boot <devices>', 'boot order (default network,hd: PXE from rhevboot first)')
    .option('--display <type>', 'vnc or spice')
    .option('--disk <spec>', 'size=20G[,interface=virtio|virtio_scsi|ide][,format=cow|raw][,sd=DOMAIN][,bootable] (repeatable)', collect)
    .option('--nic <spec>', 'network=NET|profile=P[,interface=virtio|e1000|rtl8139][,mac=M][,name=N] (repeatable; default one NIC on the management network)', collect)
    .option('--weigher <w>', 'placement: spread (most free memory first, default) or pack (least)')
    .option('--arch <arch>', 'placement: only hosts of this architecture')
    .option('--explain', 'print each host’s placement verdict, then create')
    .option('--dry-run', 'print the placement verdicts and create nothing')
    .option('--json', 'JSON output')
    .action(async (names: string, o: MkOptions) => {
      const req: VmCreateRequest = {
        names,
        memoryMiB: parseSizeMiB(o.memory, '--memory'),
        ...(o.manager && { manager: o.manager }),
        ...(o.host && { host: o.host }),
        ...(o.template && { template: o.template }),
        ...(o.cluster && { cluster: o.cluster }),
        ...(o.cpus && { cpu: parseCpus(o.cpus) }),
        ...(o.os && { osType: o.os }),
        ...(o.boot && { boot: parseBoot(o.boot) }),
        ...(o.display && { display: o.display }),
        ...(o.disk && { disks: o.disk.map((d) => parseDisk(d)) }),
        ...(o.nic && { nics: o.nic.map((n) => parseNic(n)) }),
        ...(o.weigher && { weigher: o.weigher }),
        ...(o.arch && { architecture: o.arch }),
      };
      await withContext(globals(), async ({ services }) => {
        if (o.dryRun) {
          const plan = await services.vms.explain(req);
          return o.json ? printJson(plan) : printPlan(plan);
        }
        const out = await services.vms.create(req);
        if (o.json) return report(out.results, true);
        if (o.explain && out.placements) printPlan({ placements: out.placements, warnings: out.warnings ?? [] });
        report(out.results);
      });
    });

  vm.command('set')
    .description('change VMs: memory, CPUs, boot order, display; add disks and NICs, remove NICs')
    .argument('<range>')
    .option('--memory <size>')
    .option('--cpus <S:C:T>')
    .option('--boot <devices>')
    .option('--display <type>', 'vnc or spice')
    .option('--add-disk <spec>', 'as --disk of vm mk (repeatable)', collect)
    .option('--add-nic <spec>', 'as --nic of vm mk (repeatable)', collect)
    .option('--rm-nic <name|mac>', 'remove a NIC (repeatable)', collect)
    .action(async (range: string, o: { memory?: string; cpus?: string; boot?: string; display?: 'vnc' | 'spice'; addDisk?: string[]; addNic?: string[]; rmNic?: string[] }) => {
      const changes: VmChanges = {
        ...(o.memory && { memoryMiB: parseSizeMiB(o.memory, '--memory') }),
        ...(o.cpus && { cpu: parseCpus(o.cpus) }),
        ...(o.boot && { boot: parseBoot(o.boot) }),
        ...(o.display && { display: o.display }),
        ...(o.addDisk && { addDisks: o.addDisk.map((d) => parseDisk(d, '--add-disk')) }),
        ...(o.addNic && { addNics: o.addNic.map((n) => parseNic(n, '--add-nic')) }),
        ...(o.rmNic && { removeNics: o.rmNic }),
      };
      await withContext(globals(), async ({ services }) => report(await services.vms.change(range, changes)));
    });

  vm.command('rm')
    .description('remove VMs with their disks (and their nodes)')
    .argument('<range>')
    .option('--keep-disks', 'detach the disks instead of removing them')
    .option('--force', 'remove even if the engine would refuse (e.g. not down)')
    .action(async (range: string, o: { keepDisks?: boolean; force?: boolean }) => {
      await withContext(globals(), async ({ services }) => report(await services.vms.remove(range, { keepDisks: o.keepDisks === true, force: o.force === true })));
    });

  vm.command('ls')
    .description('VMs of every manager: state, host, MACs, addresses')
    .argument('[range]')
    .option('--json', 'JSON output')
    .action(async (range: string | undefined, o: { json?: boolean }) => {
      await withContext(globals(), async ({ services }) => {
        const { vms, warnings } = await services.vms.list(range);
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        if (o.json) return printJson(vms);
        printTable(
          ['NAME', 'MANAGER', 'STATE', 'HOST', 'MEMORY', 'CPUS', 'MACS', 'ADDRESSES'],
          vms.map((v) => [v.name, v.manager, v.state, v.host ?? '-', v.memoryMiB !== undefined ? `${v.memoryMiB}M` : '-', v.cpus !== undefined ? String(v.cpus) : '-', v.macs.join(',') || '-', v.addresses.join(',') || '-']),
        );
      });
    });

  vm.command('power')
    .description('start, stop (power off), shutdown (ACPI), suspend, reboot, or show the state; waits for the end state')
    .argument('<range>')
    .argument('<action>', 'start | stop | shutdown | suspend | reboot | status')
    .action(async (range: string, action: string) => {
      await withContext(globals(), async ({ services }) => report(await services.vms.power(range, action as never)));
    });

  vm.command('migrate')
    .description('live-migrate running VMs to a host, or where the engine chooses')
    .argument('<range>')
    .option('--to <host>', 'target host (default: the engine chooses)')
    .action(async (range: string, o: { to?: string }) => {
      await withContext(globals(), async ({ services }) => report(await services.vms.migrate(range, o.to ? { host: o.to } : {})));
    });

  vm.command('clone')
    .description('clone a VM that is down to new VMs (v4: the clone action; v3: through a template), recorded as nodes')
    .argument('<source>')
    .argument('<names>', 'a name or a noderange of new names, e.g. web[02-05]')
    .action(async (source: string, names: string) => {
      await withContext(globals(), async ({ services }) => report(await services.vms.clone(source, names)));
    });
}
