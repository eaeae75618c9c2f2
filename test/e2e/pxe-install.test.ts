/**
 * The real loop (issue 5): a qemu machine PXE boots from rhevboot, the only server on its network
 * (its DHCP, TFTP and HTTP), into a RHEV-H-shaped installer, which calls the install trigger; the
 * node is then booted again and must be handed the local-boot config.
 *
 * Per case: a fresh state dir; `rhevboot serve` inside the test's network namespace; copycds of an
 * ISO whose kernel is a real Debian kernel and whose initrd is a busybox "installer"
 * (test/helpers/e2e-installer.ts); `node add` with the VM's MAC and an IP; `nodeset install`; qemu
 * with `-boot n` (TCG, pxe-lab G1). Asserted: the installer's markers on the serial console, the
 * node `booted` and set to `local`, its timeline DHCP -> TFTP/HTTP -> trigger in order; then the
 * second boot reaches the local disk (or, under UEFI, the firmware's next boot entry) without
 * loading the installer.
 *
 * Needs root and the Debian packages in E2E_PACKAGES (test/helpers/e2e-lab.ts), and the kernel
 * with its modules from test/helpers/fetch-kernel.sh. Missing pieces fail the test, naming the fix.
 * Run: node --import tsx --test test/e2e/*.test.ts   (RHEVBOOT_E2E_KEEP=1 keeps the work dir)
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { INSTALL_DONE, ISO_MARKER, LOCAL_DISK_MARKER, makeBootableRhevhIso, makeLocalDisk } from '../helpers/e2e-installer.js';
import { FILES, PxeLab, QEMU_ACCEL, readText, requireE2eTools, type ManagedProcess } from '../helpers/e2e-lab.js';
import { waitFor } from '../helpers/fixtures.js';
import { requireKernelWithModules, requireStaticBusybox } from '../helpers/kernel.js';

const HTTP_PORT = 8080;
const ENGINE_PORT = 8088;
const DISTRO = 'rhevh6.5';

interface Case {
  title: string;
  node: string;
  mac: string;
  ip: string;
  firmware: 'bios' | 'uefi';
  nic: 'e1000' | 'virtio-net-pci';
  /** RHEVBOOT_BOOT_BIOS_LOADER. */
  biosLoader: 'pxelinux.0' | 'undionly.kpxe';
  /** How the boot config reaches the machine: an iPXE script over HTTP, or pxelinux.cfg over TFTP. */
  loader: 'ipxe' | 'pxelinux';
  /** What the first boot must show in the timeline besides DHCP: a TFTP config or an HTTP script. */
  installVia: RegExp;
}

interface EventRow {
  id: number;
  at: string;
  kind: string;
  message: string;
}

interface NodeJson {
  status: string;
  bootAction: string;
}

let lab: PxeLab;
let work: string;
let iso: string;
let failed = false;

const rhevbootLogs: string[] = [];

before(async () => {
  requireE2eTools();
  const { kernel, modules } = await requireKernelWithModules(['e1000', 'virtio_pci', 'virtio_net', 'loop', 'isofs']);
  const busybox = await requireStaticBusybox();
  work = await mkdtemp(path.join(os.tmpdir(), 'rhevboot-e2e-'));
  iso = path.join(work, 'rhevh-e2e.iso');
  await makeBootableRhevhIso(work, iso, { kernel, busybox, modules });
  lab = new PxeLab();
  lab.up();
});

after(async () => {
  await lab?.destroy();
  if (!work) return;
  if (failed || process.env.RHEVBOOT_E2E_KEEP === '1') {
    process.stderr.write(`e2e: logs kept in ${work}\n`);
  } else {
    await rm(work, { recursive: true, force: true });
  }
});

function envFor(stateDir: string, c: Case): NodeJS.ProcessEnv {
  return {
    RHEVBOOT_STATE_DIR: stateDir,
    RHEVBOOT_LOG_LEVEL: 'debug',
    RHEVBOOT_HTTP_HOST: '0.0.0.0',
    RHEVBOOT_HTTP_PORT: String(HTTP_PORT),
    RHEVBOOT_DHCP_MODE: 'full',
    RHEVBOOT_DHCP_INTERFACE: lab.bridge,
    RHEVBOOT_DHCP_SERVER_ADDRESS: lab.serverIp,
    RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: lab.cidr, pools: ['10.233.0.100-10.233.0.150'], leaseSeconds: 600 }]),
    RHEVBOOT_TFTP_ROOT: path.join(stateDir, 'tftpboot'),
    RHEVBOOT_BOOT_BIOS_LOADER: c.biosLoader,
    RHEVBOOT_BOOT_UEFI_LOADER: 'ipxe.efi',
    RHEVBOOT_RHEVM_POLL_INTERVAL_MS: '200',
  };
}

/**
 * The engine simulator as its own process in the server namespace, where the installed host
 * (the VM) registers with it and rhevboot approves it. Plain http: busybox wget has no TLS.
 */
async function startEngine(logFile: string): Promise<{ proc: ManagedProcess; url: string }> {
  const proc = lab.spawn([process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'test/engine-sim/main.ts'), '--port', String(ENGINE_PORT), '--host', lab.serverIp, '--http', '--version', '4', '--step-ms', '20'], logFile);
  const line = await waitFor(async () => (await readText(logFile)).split('\n').find((l) => l.startsWith('{')), { what: 'the engine simulator', timeoutMs: 30_000, intervalMs: 200 });
  return { proc, url: (JSON.parse(line) as { url: string }).url };
}

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCli(args, env, 120_000);
  assert.equal(r.code, 0, `rhevboot ${args.join(' ')} failed (${r.code ?? r.signal}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The node's timeline from the HTTP API (curl inside the namespace: the API listens there only). */
async function timeline(stateDir: string, node: string): Promise<EventRow[]> {
  const token = (await readFile(path.join(stateDir, 'admin.token'), 'utf8')).trim();
  const out = lab.in(['curl', '-sS', '--fail', '-m', '10', '-H', `authorization: Bearer ${token}`, `http://${lab.serverIp}:${HTTP_PORT}/api/v1/nodes/${node}/events`]);
  return JSON.parse(out) as EventRow[];
}

async function startRhevboot(env: NodeJS.ProcessEnv, logFile: string): Promise<ManagedProcess> {
  const p = lab.spawn([process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'serve'], logFile, {
    env: { ...process.env, RHEVBOOT_CONFIG: '', ...env },
  });
  rhevbootLogs.push(logFile);
  let exited = false;
  void p.exited.then(() => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`rhevboot serve exited before it was ready:\n${await readText(logFile)}`);
      return (await readText(logFile)).includes('rhevboot ready');
    },
    { what: 'rhevboot serve to be ready', timeoutMs: 30_000, intervalMs: 200 },
  );
  return p;
}

interface Boot {
  serial: string;
  seconds: number;
  /** Seconds after qemu start at which each marker first appeared. */
  marks: Record<string, number>;
}

/**
 * Boots the VM once (same MAC and disk every time) and waits, bounded, for qemu to exit by itself
 * (installer poweroff, local disk reset) or for `stopWhen` to match the serial log.
 */
async function bootVm(c: Case, tag: string, opts: { timeoutMs: number; stopWhen?: RegExp; marks: Record<string, RegExp> }): Promise<Boot> {
  const serialFile = path.join(work, `${c.node}-${tag}.serial.log`);
  const qemu = ['qemu-system-x86_64', ...QEMU_ACCEL, '-m', '512', '-nographic', '-monitor', 'none', '-serial', `file:${serialFile}`, '-no-reboot'];
  qemu.push('-netdev', `tap,id=n0,ifname=${lab.tap},script=no,downscript=no`);
  if (c.firmware === 'bios') {
    // SeaBIOS + the NIC's iPXE option ROM as the PXE stack; a local disk to boot when told to.
    qemu.push('-machine', 'pc', '-device', `${c.nic},netdev=n0,mac=${c.mac},bootindex=1`);
    qemu.push('-drive', `file=${path.join(work, `${c.node}-disk.img`)},format=raw,if=none,id=d0`, '-device', 'ide-hd,drive=d0,bootindex=2');
    qemu.push('-boot', 'n,reboot-timeout=1000');
  } else {
    // OVMF with its own PXE client (no option ROM on the NIC: pxe-lab G11), which gets ipxe.efi.
    qemu.push('-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${FILES.ovmfCode}`, '-drive', `if=pflash,format=raw,file=${path.join(work, `${c.node}-OVMF_VARS.fd`)}`);
    qemu.push('-device', `${c.nic},netdev=n0,mac=${c.mac},romfile=,bootindex=1`, '-boot', 'n');
  }
  const started = Date.now();
  const p = lab.spawn(qemu, path.join(work, `${c.node}-${tag}.qemu.log`));
  const marks: Record<string, number> = {};
  let exited = false;
  void p.exited.then(() => (exited = true));
  let serial = '';
  try {
    await waitFor(
      async () => {
        serial = await readText(serialFile);
        const t = (Date.now() - started) / 1000;
        for (const [name, re] of Object.entries(opts.marks)) if (marks[name] === undefined && re.test(serial)) marks[name] = t;
        return exited || !!opts.stopWhen?.test(serial);
      },
      { what: `qemu (${c.title}, ${tag}) to finish`, timeoutMs: opts.timeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    const tail = serial.split('\n').slice(-40).join('\n');
    throw new Error(`${(err as Error).message}\n--- serial log tail (${serialFile}) ---\n${tail}`);
  } finally {
    await lab.stop(p, 2000);
  }
  serial = await readText(serialFile);
  return { serial, seconds: (Date.now() - started) / 1000, marks };
}

function assertInOrder(events: EventRow[], steps: { name: string; match: (e: EventRow) => boolean }[]): void {
  let from = 0;
  for (const step of steps) {
    const i = events.findIndex((e, idx) => idx >= from && step.match(e));
    assert.ok(i >= 0, `timeline has no ${step.name} after event #${from}:\n${events.map((e) => `  ${e.kind}: ${e.message}`).join('\n')}`);
    from = i + 1;
  }
}

const INSTALL_MARKS: Record<string, RegExp> = {
  'installer started': /RBE: installer started/,
  'installer DHCP lease': /RBE: udhcpc lease/,
  'ISO mounted': /RBE: ISO mounted/,
  'trigger answered': /RBE: trigger answered/,
  'install done': new RegExp(INSTALL_DONE),
};

async function runCase(t: TestContext, c: Case): Promise<void> {
  const t0 = Date.now();
  const stateDir = path.join(work, `${c.node}-state`);
  const env = envFor(stateDir, c);
  const tftpRoot = env.RHEVBOOT_TFTP_ROOT!;
  await mkdir(tftpRoot, { recursive: true });
  // The product does not install boot loaders yet: they come from the Debian packages.
  for (const f of [FILES.pxelinux, FILES.ldlinux, FILES.ipxeEfi, FILES.undionly]) await copyFile(f, path.join(tftpRoot, path.basename(f)));
  if (c.firmware === 'bios') await makeLocalDisk(path.join(work, `${c.node}-disk.img`));
  else await copyFile(FILES.ovmfVars, path.join(work, `${c.node}-OVMF_VARS.fd`));

  const server = await startRhevboot(env, path.join(work, `${c.node}-rhevboot.log`));
  const engine = await startEngine(path.join(work, `${c.node}-engine.log`));
  try {
    // The CLI next to the running server, as an admin would use it.
    await cli(['copycds', iso, '--quiet'], env);
    const added = await runCli(['rhevm', 'add', 'engine1', '--url', engine.url, '--user', 'admin@internal'], env, 60_000, 'engine-sim-password\n');
    assert.equal(added.code, 0, added.stderr);
    await cli(['node', 'add', c.node, '--mac', c.mac, '--ip', c.ip, '--distro', DISTRO, '--manager', 'engine1', '--cluster', 'Default', '--kernel-args', 'console=ttyS0,115200 panic=5 loglevel=5'], env);
    await cli(['nodeset', c.node, 'install'], env);
    const tSetup = (Date.now() - t0) / 1000;

    const install = await bootVm(c, 'install', { timeoutMs: 150_000, marks: INSTALL_MARKS });
    t.diagnostic(`${c.title}: setup ${tSetup.toFixed(1)} s; install boot ${install.seconds.toFixed(1)} s; ${Object.entries(install.marks).map(([k, v]) => `${k} +${v.toFixed(1)}`).join(', ')}`);
    assert.match(install.serial, /RBE: installer started/, 'the installer kernel and initrd never ran');
    assert.match(install.serial, new RegExp(`RBE: udhcpc lease ip=${c.ip.replace(/\./g, '\\.')} hostname=${c.node}`), 'the installer did not get the node\'s address and hostname from rhevboot');
    assert.match(install.serial, /RBE: ISO present \/rhevh\.iso/, 'the ISO appended to the initrd is missing');
    assert.match(install.serial, new RegExp(`RBE: ISO mounted: .*marker=${ISO_MARKER}`), 'the appended ISO did not mount');
    assert.match(install.serial, new RegExp(`RBE: calling trigger http://${lab.serverIp.replace(/\./g, '\\.')}:${HTTP_PORT}/xcatrhevh/rhevh_finish_install/${c.node}\\?token=`), '@HOSTNAME@ was not replaced by the hostname');
    assert.match(install.serial, /RBE: trigger answered: ok/, 'the trigger was not accepted');
    assert.match(install.serial, new RegExp(`RBE: registered with ${lab.serverIp.replace(/\./g, '\\.')}:${ENGINE_PORT}: OK`), 'the installed host did not register with the engine given as management_server');
    assert.match(install.serial, new RegExp(INSTALL_DONE));

    // The hand-off: rhevboot finds the host pending approval, approves it, and waits for up.
    const node = await waitFor(
      async () => {
        const n = JSON.parse(await cli(['node', 'show', c.node, '--json'], env)) as NodeJson;
        return n.status === 'up' || n.status === 'failed' ? n : undefined;
      },
      { what: 'the node to be up in the engine', timeoutMs: 60_000, intervalMs: 200 },
    );
    assert.deepEqual([node.status, node.bootAction], ['up', 'local']);
    const hosts = JSON.parse(lab.in(['curl', '-sS', '--fail', '-m', '10', `${engine.url}/__sim/hosts`])) as { name: string; status: string }[];
    assert.deepEqual(hosts.map((h) => [h.name, h.status]), [[c.node, 'up']], 'exactly one host, up');

    const events = await timeline(stateDir, c.node);
    assertInOrder(events, [
      { name: 'DHCP from the firmware', match: (e) => e.kind === 'node.dhcp' },
      { name: `the install config (${c.installVia})`, match: (e) => (e.kind === 'node.installing' || e.kind === 'node.tftp') && c.installVia.test(e.message) },
      { name: 'the trigger (node.booted)', match: (e) => e.kind === 'node.booted' },
      { name: 'the hand-off queued', match: (e) => e.kind === 'rhevm.queued' },
      { name: 'the host found pending approval', match: (e) => e.kind === 'rhevm.host-found' },
      { name: 'the host approved', match: (e) => e.kind === 'rhevm.host-approved' },
      { name: 'the host up', match: (e) => e.kind === 'rhevm.host-up' },
    ]);
    const bootedId = events.find((e) => e.kind === 'node.booted')!.id;

    // Second boot: the same machine must now be handed the local-boot config.
    const local = await bootVm(c, 'local', {
      timeoutMs: 90_000,
      // UEFI has no local disk here. iPXE runs the `exit` script, says "No more network devices"
      // and hands back to OVMF; that is where we stop (see the report: OVMF shows nothing after).
      stopWhen: c.firmware === 'uefi' ? /\[script\][\s\S]*No more network devices/ : undefined,
      marks: { 'local script': /\[script\]/, 'installer started': /RBE: installer started/, 'local disk': new RegExp(LOCAL_DISK_MARKER) },
    });
    t.diagnostic(`${c.title}: local boot ${local.seconds.toFixed(1)} s; ${Object.entries(local.marks).map(([k, v]) => `${k} +${v.toFixed(1)}`).join(', ')}`);
    assert.doesNotMatch(local.serial, /RBE: installer started/, 'the node ran the installer again after the trigger');
    assert.doesNotMatch(local.serial, /vmlinuz0/, 'the node fetched the installer kernel again after the trigger');
    const dashed = c.mac.replace(/:/g, '-');
    if (c.loader === 'ipxe') {
      // What iPXE says it ran is, byte for byte, the node's local-boot script: `exit`.
      const localScript = lab.in(['curl', '-sS', '--fail', '-m', '10', `http://${lab.serverIp}:${HTTP_PORT}/boot/ipxe/${dashed}`]);
      assert.match(localScript, /^exit$/m, `the node's iPXE script is not the local one:\n${localScript}`);
      const ran = [...local.serial.matchAll(new RegExp(`${dashed} : (\\d+) bytes \\[script\\]`, 'g'))].map((m) => Number(m[1]));
      assert.deepEqual(ran, [Buffer.byteLength(localScript)], 'iPXE did not run exactly the local-boot script once');
    } else {
      // pxelinux fetched its per-MAC config over TFTP again, and that config is LOCALBOOT.
      const cfg = lab.in(['curl', '-sS', '-m', '10', `tftp://${lab.serverIp}/pxelinux.cfg/01-${dashed}`]);
      assert.match(cfg, /^\s*LOCALBOOT 0$/m, `the node's pxelinux config is not the local one:\n${cfg}`);
      const after = (await timeline(stateDir, c.node)).filter((e) => e.id > bootedId);
      assert.ok(after.some((e) => e.kind === 'node.tftp' && e.message.includes(`pxelinux.cfg/01-${dashed}`)), 'the second boot did not fetch its pxelinux config');
    }
    if (c.firmware === 'bios') assert.match(local.serial, new RegExp(LOCAL_DISK_MARKER), 'the firmware did not go on to boot the local disk');
    const after = (await timeline(stateDir, c.node)).filter((e) => e.id > bootedId);
    assert.ok(after.some((e) => e.kind === 'node.dhcp'), `no DHCP from the second boot in the timeline:\n${after.map((e) => `  ${e.kind}: ${e.message}`).join('\n')}`);
    assert.ok(!after.some((e) => e.kind === 'node.installing' || e.kind === 'node.booted'), 'the second boot was treated as an install');
    const again = JSON.parse(await cli(['node', 'show', c.node, '--json'], env)) as NodeJson;
    assert.deepEqual([again.status, again.bootAction], ['up', 'local']);
    t.diagnostic(`${c.title}: total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    failed = true;
    const log = await readText(path.join(work, `${c.node}-rhevboot.log`));
    const lines = log.split('\n').filter((l) => /"event"|warn|error|refused|no boot config/i.test(l)).slice(-30);
    let events = '';
    try {
      events = (await timeline(stateDir, c.node)).map((e) => `  ${e.at} ${e.kind}: ${e.message}`).join('\n');
    } catch {
      /* the server may be gone */
    }
    (err as Error).message += `\n--- timeline ---\n${events}\n--- rhevboot log (events, warnings) ---\n${lines.join('\n')}\n(work dir ${work})`;
    throw err;
  } finally {
    await lab.stop(engine.proc);
    await lab.stop(server);
  }
}

describe('PXE install loop in qemu, rhevboot as the only server', { concurrency: 1 }, () => {
  it('BIOS: iPXE option ROM as the PXE stack -> pxelinux.0 over TFTP -> pxelinux.cfg/01-<mac> -> kernel and initrd over TFTP; then LOCALBOOT', async (t) => {
    await runCase(t, {
      title: 'bios-pxelinux',
      node: 'rbe-bios-pxelinux',
      mac: '52:54:00:e2:e0:01',
      ip: '10.233.0.51',
      firmware: 'bios',
      nic: 'e1000',
      biosLoader: 'pxelinux.0',
      loader: 'pxelinux',
      installVia: /^TFTP pxelinux\.cfg\/01-52-54-00-e2-e0-01/,
    });
  });

  it('BIOS: iPXE option ROM asks as iPXE -> HTTP script -> kernel and initrd over HTTP; then local disk', async (t) => {
    await runCase(t, {
      title: 'bios-ipxe-http',
      node: 'rbe-bios-ipxe',
      mac: '52:54:00:e2:e0:02',
      ip: '10.233.0.52',
      firmware: 'bios',
      nic: 'e1000',
      biosLoader: 'undionly.kpxe',
      loader: 'ipxe',
      installVia: /^HTTP \/boot\/ipxe\/52-54-00-e2-e0-02/,
    });
  });

  it('UEFI: OVMF PXE -> ipxe.efi over TFTP -> HTTP script -> kernel and initrd over HTTP; then the next boot entry', async (t) => {
    await runCase(t, {
      title: 'uefi-ipxe',
      node: 'rbe-uefi',
      mac: '52:54:00:e2:e0:03',
      ip: '10.233.0.53',
      firmware: 'uefi',
      nic: 'virtio-net-pci',
      biosLoader: 'undionly.kpxe',
      loader: 'ipxe',
      installVia: /^HTTP \/boot\/ipxe\/52-54-00-e2-e0-03/,
    });
  });
});
