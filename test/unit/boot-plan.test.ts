/**
 * The boot plan, pure: one function over the facts the booter read. Every server renders what it
 * says, so what a firmware or a loader gets is asserted here once, field by field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoaderChoice } from '../../src/domain/boot.js';
import { planBoot, type PlanFacts } from '../../src/domain/boot-plan.js';
import type { NodeRecord } from '../../src/domain/node.js';
import { loadDescriptors, parseDescriptor } from '../../src/media/descriptors.js';

const LOADERS: LoaderChoice = { biosLoader: 'undionly.kpxe', uefiLoader: 'ipxe.efi', httpBase: 'http://10.1.0.1' };
const RHEVH = loadDescriptors().find((d) => d.family === 'rhevh')!;
const TREE = { name: 'rhevh6.5', arch: 'x86_64', family: 'rhevh', version: '6.5', kernel: 'isolinux/vmlinuz0', pxeInitrd: 'pxe/initrd0.img' };
const MAC = '52:54:00:12:34:56';

function node(over: Partial<NodeRecord> = {}): NodeRecord {
  const at = '2026-01-01T00:00:00.000Z';
  return { name: 'n1', nics: [{ mac: '52:54:00:00:00:09', install: false }, { mac: MAC, install: true }], ip: '10.1.0.11', groups: ['rack1'], distro: 'rhevh6.5', arch: 'x86_64', hypervisor: 'rhevh', manager: 'rhevm.example.com', cluster: null, storageInit: '', kernelArgs: 'console=ttyS0', attrs: { k: 'v' }, bootAction: 'install', status: 'install', statusReason: null, triggerToken: 'tok', createdAt: at, updatedAt: at, ...over };
}

const installFacts = (over: Partial<NodeRecord> = {}): PlanFacts => ({ node: node(over), tree: TREE, descriptor: RHEVH, managementServer: 'rhevm.example.com:443', adminPasswordHash: '$6$a$b' });

describe('boot plan', () => {
  it('a BIOS firmware of a node set to install: its loader, and what the loader will install with', () => {
    const plan = planBoot({ mac: MAC, arch: 0 }, installFacts(), LOADERS);
    assert.equal(plan.action, 'install');
    assert.equal(plan.firmware, 'bios');
    assert.equal(plan.bootFile, 'undionly.kpxe');
    assert.equal(plan.vendorClass, 'PXEClient');
    assert.deepEqual(plan.config, { kind: 'ipxe', template: 'ipxe-install.ipxe', secret: true });
    assert.deepEqual(plan.distro, { name: 'rhevh6.5', arch: 'x86_64', family: 'rhevh', version: '6.5' });
    assert.deepEqual(plan.kernel, { path: 'distros/rhevh6.5/x86_64/isolinux/vmlinuz0', url: 'http://10.1.0.1/install/rhevh6.5/x86_64/isolinux/vmlinuz0' });
    assert.deepEqual(plan.initrd, { path: 'distros/rhevh6.5/x86_64/pxe/initrd0.img', url: 'http://10.1.0.1/install/rhevh6.5/x86_64/pxe/initrd0.img' });
    assert.equal(plan.installConfigUrl, '', 'RHEV-H takes no install config');
    assert.deepEqual(plan.node, { name: 'n1', hostname: 'n1', ip: '10.1.0.11', status: 'install', mac: '52-54-00-12-34-56', groups: ['rack1'], attrs: { k: 'v' } });
    assert.deepEqual(plan.why, ['BIOS PXE (x86 BIOS)', `MAC ${MAC} is node n1, set to install, address 10.1.0.11`]);
  });

  it('the command line: BOOTIF written out for iPXE and GRUB, left to pxelinux (IPAPPEND 2)', () => {
    const ipxe = planBoot({ config: 'ipxe', mac: '52-54-00-12-34-56' }, installFacts(), LOADERS);
    const tail = 'ip=dhcp hostname=n1 adminpw=$6$a$b ssh_pwauth=1 management_server=rhevm.example.com:443 local_boot_trigger=http://10.1.0.1/xcatrhevh/rhevh_finish_install/@HOSTNAME@?token=tok console=ttyS0';
    assert.ok(ipxe.cmdline!.startsWith(`${RHEVH.boot.kernelArgs} storage_init BOOTIF=01-52-54-00-12-34-56 ${tail}`), ipxe.cmdline);
    assert.equal(ipxe.cmdline!.endsWith(tail), true);
    const grub = planBoot({ config: 'grub', mac: MAC }, installFacts(), LOADERS);
    assert.equal(grub.cmdline, ipxe.cmdline);
    assert.deepEqual(grub.config, { kind: 'grub', template: 'grub-install.cfg', secret: true });
    const pxelinux = planBoot({ config: 'pxelinux', ip: '10.1.0.11' }, installFacts(), LOADERS);
    assert.equal(pxelinux.cmdline, `${RHEVH.boot.kernelArgs} storage_init ${tail}`);
    assert.deepEqual(pxelinux.why, ['node n1 is set to install', 'installs rhevh6.5/x86_64 (rhevh 6.5) from TFTP']);
    assert.equal(pxelinux.firmware, undefined, 'a loader asking for its config is not a firmware');
  });

  it('each firmware gets its loader; syslinux.efi gets nothing for a local boot (its LOCALBOOT loops)', () => {
    const plan = (c: object, loaders: LoaderChoice = LOADERS, facts = installFacts()) => planBoot({ mac: MAC, ...c }, facts, loaders);
    assert.equal(plan({ arch: 7 }).bootFile, 'ipxe.efi');
    assert.equal(plan({ arch: 9 }).firmware, 'uefi');
    assert.equal(plan({ ipxe: true, userClass: 'iPXE' }).bootFile, 'http://10.1.0.1/boot/ipxe/52-54-00-12-34-56');
    const http = plan({ arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' });
    assert.deepEqual([http.bootFile, http.vendorClass, http.config?.kind], ['http://10.1.0.1/boot/ipxe.efi', 'HTTPClient', 'ipxe']);
    const syslinux: LoaderChoice = { biosLoader: 'pxelinux.0', uefiLoader: 'syslinux.efi', httpBase: 'http://10.1.0.1' };
    const pxe = plan({ arch: 0, ipxe: true, userClass: 'iPXE' }, syslinux);
    assert.deepEqual([pxe.bootFile, pxe.config?.kind], ['pxelinux.0', 'pxelinux']);
    const local = plan({ arch: 7 }, syslinux, { node: node({ bootAction: 'local', status: 'booted' }) });
    assert.equal(local.bootFile, undefined);
    assert.match(local.why.at(-1)!, /local boot under syslinux\.efi: no boot file/);
    const arm = plan({ arch: 11 });
    assert.deepEqual([arm.firmware, arm.bootFile], ['unsupported', undefined]);
  });

  it('local boot renders the local template whatever the family; unknown clients get discovery, and no config', () => {
    const local = planBoot({ config: 'pxelinux', mac: MAC }, { node: node({ bootAction: 'local' }) }, LOADERS);
    assert.deepEqual([local.action, local.config, local.cmdline], ['local', { kind: 'pxelinux', template: 'pxelinux-local.cfg', secret: false }, undefined]);
    const unknown = planBoot({ mac: '52:54:00:99:99:99', arch: 0 }, {}, LOADERS);
    assert.deepEqual([unknown.action, unknown.node, unknown.bootFile], ['discover', undefined, 'undionly.kpxe']);
    const stranger = planBoot({ config: 'ipxe', mac: '52-54-00-99-99-99' }, {}, LOADERS);
    assert.deepEqual([stranger.action, stranger.config], ['discover', undefined]);
  });

  it('an install it cannot make is no config, with the reason: no tree, no descriptor, or a loader the family lacks', () => {
    const why = (facts: PlanFacts, config: 'pxelinux' | 'grub' = 'pxelinux') => {
      const plan = planBoot({ config, mac: MAC }, facts, LOADERS);
      assert.equal(plan.config, undefined);
      return plan.why.at(-1);
    };
    assert.equal(why({ node: node() }), 'but its distro rhevh6.5/x86_64 is not imported: no config');
    assert.equal(why({ node: node(), tree: TREE }), 'but no descriptor describes the rhevh family: no config');
    const ipxeOnly = { ...RHEVH, boot: { ...RHEVH.boot, loaders: { ipxe: RHEVH.boot.loaders.ipxe! } } };
    assert.equal(why({ node: node(), tree: TREE, descriptor: ipxeOnly }, 'grub'), 'but the rhevh family does not install from grub: no config');
  });

  it('a new family is a descriptor and its templates: the plan follows what the descriptor says', () => {
    const other = parseDescriptor(
      'other.yaml',
      ['family: other', 'title: Other', 'arches: [x86_64]', 'defaultArch: x86_64', 'recognise:', '  files: [a/k]', 'install:', '  isoName: o.iso', '  extract: [a/]', '  kernel: a/k', '  initrd: a/i', '  pxeInitrd: p/i',
        'boot:', '  recipe: rhevh', '  kernelArgs: quiet other=1', '  loaders:', '    pxelinux: { template: other-pxelinux.cfg }'].join('\n'),
    );
    const plan = planBoot({ config: 'pxelinux', mac: MAC }, { node: node(), tree: { ...TREE, family: 'other', kernel: 'a/k', pxeInitrd: 'p/i' }, descriptor: other }, LOADERS);
    assert.deepEqual(plan.config, { kind: 'pxelinux', template: 'other-pxelinux.cfg', secret: true });
    assert.match(plan.cmdline!, /^quiet other=1 storage_init BOOTIF=01-52-54-00-12-34-56 /, 'this family\'s template does not append BOOTIF, so the command line carries it');
    assert.equal(plan.kernel!.path, 'distros/rhevh6.5/x86_64/a/k');
  });
});
