import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { encrypt } from 'unixcrypt';
import { loadConfig } from '../../src/config/load.js';
import { isRhevbootError } from '../../src/errors.js';
import { createCliLogger } from '../../src/log.js';
import { loadDescriptors } from '../../src/media/descriptors.js';
import { BUILTIN_TEMPLATE_DIR, ConfigRenderer } from '../../src/provisioning/renderer.js';
import { SECRET_ADMIN_PASSWORD, SECRET_RHEVM_ADMIN_PASSWORD } from '../../src/provisioning/secrets.js';
import { createServices } from '../../src/services.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { distroRecord } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

async function setup() {
  const dir = await tempDir('rhevboot-configs-');
  const loaded = loadConfig({ env: { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.1.0.0/24' }]), RHEVBOOT_BOOT_HTTP_BASE: 'http://10.1.0.1' } });
  const store = openSqliteStore({ dir });
  const log = createCliLogger('silent');
  const services = createServices(loaded.config, store, log);
  await store.distros.put(distroRecord());
  await services.nodes.add([{ name: 'n1', macs: ['52:54:00:12:34:56'], ip: '10.1.0.11', distro: 'rhevh6.5', manager: 'rhevm.example.com', storageInit: '', kernelArgs: 'console=ttyS0' }]);
  return { dir, store, services, configs: services.configs };
}

describe('boot configs', () => {
  it('renders the RHEV-H install for pxelinux, iPXE and GRUB, with xCAT\'s bugs fixed', async () => {
    const { store, services, configs } = await setup();
    try {
      const admin = encrypt('admin-secret', '$6$abcdefgh');
      const rhevm = encrypt('root-secret', '$6$ijklmnop');
      await store.secrets.set(SECRET_ADMIN_PASSWORD, admin);
      await store.secrets.set(SECRET_RHEVM_ADMIN_PASSWORD, rhevm);
      await services.nodes.nodeset('n1', 'install');
      const token = (await services.nodes.get('n1')).triggerToken!;
      assert.match(token, /^[A-Za-z0-9_-]{24}$/);

      const pxe = (await configs.tftp('pxelinux.cfg/01-52-54-00-12-34-56', { address: '10.1.0.11' }))!.toString();
      const append = pxe.split('\n').find((l) => l.trim().startsWith('APPEND'))!.trim();
      assert.equal(
        append,
        'APPEND initrd=distros/rhevh6.5/x86_64/pxe/initrd0.img rootflags=loop root=live:/rhevh.iso rootfstype=auto ro liveimg nomodeset check rootflags=ro ' +
          'crashkernel=512M-2G:64M,2G-:128M elevator=deadline processor.max_cstate=1 install reinstall quiet rd_NO_LVM rhgb rd_NO_LUKS rd_NO_MD rd_NO_DM ' +
          `storage_init ip=dhcp hostname=n1 adminpw=${admin} ssh_pwauth=1 management_server=rhevm.example.com:443 rhevm_admin_password=${rhevm} ` +
          `local_boot_trigger=http://10.1.0.1/xcatrhevh/rhevh_finish_install/@HOSTNAME@?token=${token} console=ttyS0`,
      );
      assert.match(pxe, /^# rhevboot: n1 installs rhevh6\.5\/x86_64\n/);
      assert.match(pxe, /\n  KERNEL distros\/rhevh6\.5\/x86_64\/isolinux\/vmlinuz0\n/);
      assert.match(pxe, /\n  IPAPPEND 2\n/);
      assert.doesNotMatch(pxe, /BOOTIF=/, 'pxelinux appends BOOTIF itself');
      assert.notEqual(admin, rhevm);

      assert.equal((await services.nodes.get('n1')).status, 'installing', 'fetching the install config starts the install');
      const byIp = (await configs.tftp('pxelinux.cfg/0A01000B', { address: '10.1.0.11' }))!.toString();
      assert.equal(byIp, pxe);

      const ipxe = (await configs.ipxe('52-54-00-12-34-56', { address: '10.1.0.11' }))!;
      assert.match(ipxe, /^#!ipxe\n# rhevboot: n1 installs rhevh6\.5\/x86_64\n/);
      assert.match(ipxe, /\nkernel http:\/\/10\.1\.0\.1\/install\/rhevh6\.5\/x86_64\/isolinux\/vmlinuz0 initrd=initrd0\.img rootflags=loop .* BOOTIF=01-52-54-00-12-34-56 ip=dhcp hostname=n1 /);
      assert.match(ipxe, /\ninitrd --name initrd0\.img http:\/\/10\.1\.0\.1\/install\/rhevh6\.5\/x86_64\/pxe\/initrd0\.img\nboot\n$/);

      const grub = (await configs.tftp('boot/grub/grub.cfg-01-52-54-00-12-34-56', { address: '10.1.0.11' }))!.toString();
      assert.match(grub, /linux \(tftp\)\/distros\/rhevh6\.5\/x86_64\/isolinux\/vmlinuz0 rootflags=loop .* BOOTIF=01-52-54-00-12-34-56 /);
      assert.match(grub, /initrd \(tftp\)\/distros\/rhevh6\.5\/x86_64\/pxe\/initrd0\.img/);

      await services.nodes.nodeset('n1', 'local');
      assert.match((await configs.tftp('pxelinux.cfg/01-52-54-00-12-34-56', { address: 'x' }))!.toString(), /\nLABEL local\n  LOCALBOOT 0\n/);
      assert.match((await configs.ipxe('52:54:00:12:34:56', { address: 'x' }))!, /\nexit\n$/);
      assert.match((await configs.tftp('grub.cfg-01-52-54-00-12-34-56', { address: 'x' }))!.toString(), /\nexit\n$/);
    } finally {
      await store.close();
    }
  });

  it('unknown nodes, subnet prefixes, UUIDs and other names are "not found"', async () => {
    const { store, configs } = await setup();
    try {
      for (const name of ['pxelinux.cfg/01-52-54-00-99-99-99', 'pxelinux.cfg/0A01000', 'pxelinux.cfg/0A01', 'pxelinux.cfg/default', 'pxelinux.cfg/564d4c6f-1234-5678-9abc-def012345678', 'pxelinux.cfg/0A010063', 'grub.cfg', 'pxelinux.cfg/01-52-54-00-12-34-5g']) {
        assert.equal(await configs.tftp(name, { address: 'x' }), undefined, name);
      }
      assert.equal(await configs.ipxe('not-a-mac', { address: 'x' }), undefined);
    } finally {
      await store.close();
    }
  });

  it('a node whose distro was removed gets no install config rather than a broken one', async () => {
    const { store, services, configs } = await setup();
    try {
      await services.nodes.nodeset('n1', 'install');
      await store.distros.remove('rhevh6.5', 'x86_64');
      assert.equal(await configs.tftp('pxelinux.cfg/01-52-54-00-12-34-56', { address: '10.1.0.11' }), undefined);
      const plan = await services.booter.plan({ config: 'pxelinux', mac: '52:54:00:12:34:56' });
      assert.equal(plan.config, undefined);
      assert.match(plan.why.join('; '), /distro rhevh6\.5\/x86_64 is not imported/);
      assert.equal((await services.nodes.get('n1')).status, 'install', 'nothing served, so the install has not started');
    } finally {
      await store.close();
    }
  });

  it('a bad template is refused at load with its file and line', async () => {
    const { dir, store, services } = await setup();
    try {
      const custom = path.join(dir, 'templates');
      await cp(BUILTIN_TEMPLATE_DIR, custom, { recursive: true });
      const build = () => new ConfigRenderer({ descriptors: loadDescriptors(), templateDir: custom });
      build();
      await writeFile(path.join(custom, 'ipxe-local.ipxe'), '#!ipxe\n# fine\n{% if node.name %}\nexit\n');
      assert.throws(build, (e: unknown) => isRhevbootError(e, 'RB_ERR_CONFIG') && new RegExp(`ipxe-local\\.ipxe:3: bad template`).test(e.message));
      await writeFile(path.join(custom, 'ipxe-local.ipxe'), '#!ipxe\n# {{ node.nmae }}\nexit\n');
      assert.throws(build, (e: unknown) => isRhevbootError(e, 'RB_ERR_CONFIG') && /ipxe-local\.ipxe:2: bad template: .*nmae/.test(e.message));
    } finally {
      await store.close();
    }
  });

  it('answers kept between requests follow every change, also one made by another process', async () => {
    const { dir, store, services, configs } = await setup();
    // The CLI's view: a second connection to the same SQLite file, as `rhevboot nodeset` has.
    const cli = openSqliteStore({ dir });
    const cliServices = createServices(loadConfig({ env: { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.1.0.0/24' }]), RHEVBOOT_BOOT_HTTP_BASE: 'http://10.1.0.1' } }).config, cli, createCliLogger('silent'));
    try {
      await services.nodes.nodeset('n1', 'install');
      const mac = '52-54-00-12-34-56';
      const install = await configs.ipxe(mac, { address: '10.1.0.11' });
      assert.match(install!, /^kernel /m);
      assert.equal(await configs.ipxe(mac, { address: '10.1.0.11' }), install, 'the same answer while nothing changed');

      await cliServices.nodes.nodeset('n1', 'local');
      assert.match((await configs.ipxe(mac, { address: '10.1.0.11' }))!, /^exit/m, 'a nodeset from the CLI is seen at the next request');
      assert.match((await configs.tftp(`pxelinux.cfg/01-${mac}`, { address: '10.1.0.11' }))!.toString(), /LOCALBOOT 0/);

      await cliServices.nodes.nodeset('n1', 'install');
      await cli.secrets.set(SECRET_ADMIN_PASSWORD, encrypt('changed', '$6$zzzzzzzz'));
      assert.match((await configs.ipxe(mac, { address: '10.1.0.11' }))!, /adminpw=\$6\$zzzzzzzz\$/, 'a secret changed elsewhere is used at once');

      assert.equal(await configs.ipxe('52:54:00:99:99:99', { address: '10.1.0.99' }), undefined);
      await cliServices.nodes.add([{ name: 'n2', macs: ['52:54:00:99:99:99'], ip: '10.1.0.99', distro: 'rhevh6.5', manager: 'm' }]);
      await cliServices.nodes.nodeset('n2', 'install');
      assert.match((await configs.ipxe('52:54:00:99:99:99', { address: '10.1.0.99' }))!, /hostname=n2/, 'an unknown MAC kept as unknown becomes known when the node is added');

      await cliServices.nodes.remove('n2');
      assert.equal(await configs.ipxe('52:54:00:99:99:99', { address: '10.1.0.99' }), undefined, 'a removed node gets nothing');
    } finally {
      await cli.close();
      await store.close();
    }
  });
});
