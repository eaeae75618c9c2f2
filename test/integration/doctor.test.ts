/**
 * `rhevboot doctor` against a real appliance on loopback (HTTP and TFTP on free ports): loaders
 * missing, installed and tampered with; an install tree that is complete, corrupted in place (only
 * --deep sees it) and truncated; an engine simulator reachable over TLS with its CA pinned, then
 * stopped; the appliance stopped. The rogue-DHCP probe has its own test (doctor-rogue-dhcp).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { loadDescriptors } from '../../src/media/descriptors.js';
import { installLoaders, loadLoaderManifest } from '../../src/media/loaders.js';
import { doctorExitCode, runDoctor, type CheckResult } from '../../src/diagnostics/doctor.js';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { distroRecord } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const byId = (results: CheckResult[], id: string): CheckResult => {
  const r = results.find((x) => x.id === id);
  assert.ok(r, `no check ${id} in ${results.map((x) => x.id).join(', ')}`);
  return r;
};

describe('rhevboot doctor', () => {
  let app: Appliance;
  let stateDir: string;
  let config: Config;
  let env: Record<string, string>;
  let sim: EngineSim | undefined;
  const doctor = (opts: { deep?: boolean; engineTimeoutMs?: number } = {}): Promise<CheckResult[]> =>
    runDoctor({ config, store: app.store, engines: app.services.engines, descriptors: loadDescriptors(), probeTimeoutMs: 1500, engineTimeoutMs: opts.engineTimeoutMs ?? 5000, deep: opts.deep ?? false });

  before(async () => {
    stateDir = await tempDir();
    const base = { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_LOG_FILE: 'false', RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' };
    app = await startAppliance(loadConfig({ env: base }), { log: pino({ level: 'silent' }) });
    // doctor is told the ports the appliance actually bound, as an admin's config would name them.
    env = { ...base, RHEVBOOT_HTTP_PORT: String(app.httpAddress.port), RHEVBOOT_TFTP_PORT: String(app.boot.tftp!.port) };
    config = loadConfig({ env }).config;
  });
  after(async () => {
    await sim?.close();
    await app?.stop('test over');
  });

  it('finds the appliance on its ports and fails on missing loaders, naming the fix (CLI, exit 1)', async () => {
    const r = await runCli(['doctor', '--json'], env, 60_000);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    assert.equal(out.ok, false);
    assert.equal(byId(out.checks, 'http').status, 'ok');
    assert.match(byId(out.checks, 'http').message, /rhevboot \d+\.\d+\.\d+ answers/);
    assert.equal(byId(out.checks, 'tftp').status, 'ok', byId(out.checks, 'tftp').message);
    assert.equal(byId(out.checks, 'dhcp-port').status, 'skip');
    assert.equal(byId(out.checks, 'rogue-dhcp').status, 'skip');
    // The default configuration serves undionly.kpxe and ipxe.efi: both required.
    for (const id of ['loader:undionly.kpxe', 'loader:ipxe.efi']) {
      assert.equal(byId(out.checks, id).status, 'fail');
      assert.match(byId(out.checks, id).fix!, /rhevboot install-loaders/);
    }
    assert.equal(byId(out.checks, 'loader:syslinux.efi').status, 'ok', 'an unused loader may be absent');
    assert.equal(byId(out.checks, 'distros').status, 'warn');
    assert.equal(byId(out.checks, 'clock').status, 'ok');

    const text = await runCli(['doctor'], env, 60_000);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^FAIL\s+loader:ipxe\.efi\s+.*missing/m);
    assert.match(text.stdout, /^\s+fix: rhevboot install-loaders/m);
    assert.match(text.stdout, /\d+ ok, \d+ warning\(s\), \d+ failed, \d+ skipped\n$/);
  });

  it('passes with the loaders installed, and fails on a tampered one', async () => {
    await installLoaders({ tftpRoot: config.tftp.root, manifest: await loadLoaderManifest() });
    let results = await doctor();
    for (const r of results.filter((x) => x.id.startsWith('loader:'))) assert.equal(r.status, 'ok', `${r.id}: ${r.message}`);
    assert.deepEqual(results.filter((r) => r.status === 'fail'), []);
    assert.equal(doctorExitCode(results), 0, 'warnings alone (no distro) exit 0');

    const file = path.join(config.tftp.root, 'undionly.kpxe');
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[100] ^= 1;
    await writeFile(file, bad);
    results = await doctor();
    assert.equal(byId(results, 'loader:undionly.kpxe').status, 'fail');
    assert.match(byId(results, 'loader:undionly.kpxe').message, /not the manifest's/);
    assert.equal(doctorExitCode(results), 1);
    await writeFile(file, good);
  });

  it('checks install trees: sizes always, checksums with --deep; a truncated tree fails with the copycds fix', async () => {
    const tree = path.join(config.installDir, 'rhevh6.5', 'x86_64');
    await mkdir(path.join(tree, 'isolinux'), { recursive: true });
    await mkdir(path.join(tree, 'pxe'), { recursive: true });
    const iso = Buffer.alloc(256 * 1024, 7);
    const pxe = Buffer.alloc(64 * 1024, 3);
    await writeFile(path.join(tree, 'rhevh.iso'), iso);
    await writeFile(path.join(tree, 'pxe/initrd0.img'), pxe);
    await writeFile(path.join(tree, 'isolinux/vmlinuz0'), 'kernel');
    await writeFile(path.join(tree, 'isolinux/initrd0.img'), 'initrd');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const record = distroRecord({
      volumeId: 'RHEV-Hypervisor-6.5', sourcePath: '/isos/rhevh-6.5.iso', isoSha256: sha(iso), isoBytes: iso.length, fileCount: 4,
      bytes: iso.length + pxe.length + 12, treePath: tree, pxeInitrdSha256: sha(pxe), pxeInitrdBytes: pxe.length, importedAt: new Date().toISOString(),
    });
    await app.store.distros.put(record);
    const id = 'distro:rhevh6.5/x86_64';
    assert.equal(byId(await doctor({ deep: true }), id).status, 'ok');

    // Same size, different bytes: only the deep check can see it.
    const flipped = Buffer.from(iso);
    flipped[5000] = 0;
    await writeFile(path.join(tree, 'rhevh.iso'), flipped);
    assert.equal(byId(await doctor(), id).status, 'ok');
    const deep = byId(await doctor({ deep: true }), id);
    assert.equal(deep.status, 'fail');
    assert.match(deep.message, /rhevh\.iso has sha256 [0-9a-f]{64}/);

    await truncate(path.join(tree, 'rhevh.iso'), 1000);
    const r = byId(await doctor(), id);
    assert.equal(r.status, 'fail');
    assert.match(r.message, new RegExp(`rhevh\\.iso is 1000 bytes, ${iso.length} were imported`));
    assert.match(r.fix!, /rhevboot copycds \/isos\/rhevh-6\.5\.iso --name rhevh6\.5 --arch x86_64 --force/);
  });

  it('reaches an engine over TLS with its pinned CA and compares clocks; a stopped engine fails with the fix', async () => {
    sim = await EngineSim.start({ version: 4, tls: true, stepMs: 5 });
    await app.services.engines.add({ name: 'lab', url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password, caPem: sim.ca!.pem });
    let results = await doctor();
    const engine = byId(results, 'engine:lab');
    assert.match(engine.message, /logged in, API v4 at \/ovirt-engine\/api/);
    // The simulator's CA is made to last 2 days: doctor warns ahead of its expiry (30 days).
    assert.equal(engine.status, 'warn', engine.message);
    assert.match(engine.message, /its pinned CA expires on /);
    assert.match(engine.fix!, /re-pin it: rhevboot rhevm test lab/);
    assert.match(byId(results, 'clock').message, /agrees with the engines \([+-]?\d+ s against lab\)/);

    await sim.close();
    sim = undefined;
    const started = Date.now();
    results = await doctor({ engineTimeoutMs: 3000 });
    assert.ok(Date.now() - started < 10_000, 'bounded in time');
    const down = byId(results, 'engine:lab');
    assert.equal(down.status, 'fail');
    assert.match(down.fix!, /reachable|rhevm test lab/);
    assert.match(byId(results, 'clock').message, /no engine answered/);
    assert.equal(doctorExitCode(results), 1);
  });

  it('fails every port check, with how to start it, once the appliance is stopped', async () => {
    await app.services.engines.remove('lab', { force: true });
    await app.stop('doctor test');
    const r = await runCli(['doctor', '--json'], env, 60_000);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { checks: CheckResult[] };
    for (const id of ['http', 'tftp']) {
      assert.equal(byId(out.checks, id).status, 'fail', id);
      assert.match(byId(out.checks, id).fix!, /systemctl start rhevboot/);
    }
  });
});
