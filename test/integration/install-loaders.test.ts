/**
 * `rhevboot install-loaders` against the Debian packages installed on this machine (pxelinux,
 * syslinux-common and ipxe are in test/setup/system-packages.txt; syslinux-efi may be absent, which
 * exercises the "missing package" path) and against a mirror directory with a tampered file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { installLoaders, loadLoaderManifest, sha256Of, type LoaderSpec } from '../../src/media/loaders.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const manifest = await loadLoaderManifest();
/** Packages CI installs (test/setup/system-packages.txt): their loaders must be installable here. */
const CI_PACKAGES = new Set(['pxelinux', 'syslinux-common', 'ipxe']);

async function assertServed(root: string, spec: LoaderSpec): Promise<void> {
  const file = path.join(root, spec.serveAs);
  const data = await readFile(file);
  assert.equal(data.length, spec.bytes, spec.serveAs);
  assert.equal(sha256Of(data), spec.sha256, spec.serveAs);
  assert.equal((await stat(file)).mode & 0o777, 0o644, `${spec.serveAs} mode`);
}

/** A mirror laid out like unpacked .debs (DIR/<package path>), except undionly.kpxe flat (DIR/<name>). */
async function mirrorOfInstalled(): Promise<string> {
  const dir = await tempDir();
  for (const spec of manifest) {
    if (!existsSync(spec.path)) continue;
    const dest = spec.serveAs === 'undionly.kpxe' ? path.join(dir, spec.serveAs) : path.join(dir, spec.path);
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(spec.path, dest);
  }
  return dir;
}

describe('install-loaders', () => {
  it('installs every loader of the manifest from the installed packages, checked, mode 0644; a second run changes nothing', async () => {
    const state = await tempDir();
    const env = { RHEVBOOT_STATE_DIR: state };
    const r = await runCli(['install-loaders', '--json'], env);
    const out = JSON.parse(r.stdout) as { tftpRoot: string; ok: boolean; loaders: { serveAs: string; status: string; message: string; inUse: boolean }[] };
    assert.equal(out.tftpRoot, path.join(state, 'tftpboot'));
    assert.deepEqual(out.loaders.map((l) => l.serveAs), manifest.map((s) => s.serveAs));
    for (const spec of manifest) {
      const got = out.loaders.find((l) => l.serveAs === spec.serveAs)!;
      if (CI_PACKAGES.has(spec.package)) assert.ok(existsSync(spec.path), `${spec.path} missing: apt-get install -y ${spec.package}`);
      if (existsSync(spec.path)) {
        assert.equal(got.status, 'installed', `${spec.serveAs}: ${got.message}`);
        await assertServed(out.tftpRoot, spec);
      } else {
        assert.equal(got.status, 'missing');
        assert.match(got.message, new RegExp(`apt-get install -y --no-install-recommends ${spec.package}`));
        assert.ok(!existsSync(path.join(out.tftpRoot, spec.serveAs)));
      }
    }
    // The default configuration serves undionly.kpxe and ipxe.efi, both from CI's packages.
    assert.equal(r.code, 0, r.stderr);
    assert.equal(out.ok, true);
    // No temporary files left in the TFTP root.
    assert.deepEqual((await readdir(out.tftpRoot)).filter((n) => n.startsWith('.')), []);

    const before = (await stat(path.join(out.tftpRoot, 'ipxe.efi'))).mtimeMs;
    const again = await runCli(['install-loaders'], env);
    assert.equal(again.code, 0, again.stderr);
    for (const spec of manifest.filter((s) => existsSync(s.path))) assert.match(again.stdout, new RegExp(`^unchanged\\s+${spec.serveAs.replace('.', '\\.')} `, 'm'));
    assert.equal((await stat(path.join(out.tftpRoot, 'ipxe.efi'))).mtimeMs, before, 'an unchanged file is not rewritten');
    if (!existsSync(manifest.find((s) => s.serveAs === 'syslinux.efi')!.path)) {
      assert.match(again.stdout, /^to install the missing packages: apt-get install -y --no-install-recommends syslinux-efi$/m);
      // Configured to serve syslinux.efi, its absence is a failure.
      const needed = await runCli(['install-loaders'], { ...env, RHEVBOOT_BOOT_UEFI_LOADER: 'syslinux.efi' });
      assert.equal(needed.code, 1, needed.stdout);
    }
  });

  it('replaces a wrong file in the TFTP root with the manifest one', async () => {
    const root = await tempDir();
    const spec = manifest.find((s) => s.serveAs === 'undionly.kpxe')!;
    await writeFile(path.join(root, 'undionly.kpxe'), 'not a loader', { mode: 0o600 });
    const res = await installLoaders({ tftpRoot: root, manifest: [spec] });
    assert.equal(res[0]!.status, 'installed');
    await assertServed(root, spec);
  });

  it('reads a mirror (unpacked debs or flat) and refuses a tampered file, writing nothing for it', async () => {
    const mirror = await mirrorOfInstalled();
    const root = await tempDir();
    const present = manifest.filter((s) => existsSync(s.path));
    let res = await installLoaders({ tftpRoot: root, manifest, from: mirror });
    for (const spec of present) {
      assert.equal(res.find((r) => r.serveAs === spec.serveAs)!.status, 'installed', spec.serveAs);
      await assertServed(root, spec);
    }
    assert.equal(res.find((r) => r.serveAs === 'undionly.kpxe')!.source, path.join(mirror, 'undionly.kpxe'));

    // Tamper with the mirror's ipxe.efi (same size, one byte flipped) and pxelinux.0 (truncated).
    const ipxe = manifest.find((s) => s.serveAs === 'ipxe.efi')!;
    const tampered = await readFile(path.join(mirror, ipxe.path));
    tampered[1000] ^= 0xff;
    await writeFile(path.join(mirror, ipxe.path), tampered);
    const pxe = manifest.find((s) => s.serveAs === 'pxelinux.0')!;
    await writeFile(path.join(mirror, pxe.path), (await readFile(pxe.path)).subarray(0, 1000));

    // Into a fresh root: nothing is written for the refused files.
    const fresh = await tempDir();
    res = await installLoaders({ tftpRoot: fresh, manifest, from: mirror });
    for (const name of ['ipxe.efi', 'pxelinux.0']) {
      const r = res.find((x) => x.serveAs === name)!;
      assert.equal(r.status, 'mismatch', name);
      assert.match(r.message, /refused/);
      assert.ok(!existsSync(path.join(fresh, name)), `${name} must not be written`);
    }
    assert.match(res.find((x) => x.serveAs === 'ipxe.efi')!.message, new RegExp(`expects ${ipxe.bytes} bytes with sha256 ${ipxe.sha256}`));
    assert.deepEqual((await readdir(fresh)).filter((n) => n.startsWith('.')), []);
    // Over the good root: the good files stay as they were.
    res = await installLoaders({ tftpRoot: root, manifest, from: mirror });
    assert.equal(res.find((x) => x.serveAs === 'ipxe.efi')!.status, 'mismatch');
    await assertServed(root, ipxe);
    await assertServed(root, pxe);

    // The CLI says so and exits 1; a file absent from the mirror is "missing" with where it was looked for.
    const state = await tempDir();
    const cli = await runCli(['install-loaders', '--from', mirror], { RHEVBOOT_STATE_DIR: state });
    assert.equal(cli.code, 1, cli.stdout);
    assert.match(cli.stdout, /^mismatch\s+ipxe\.efi .*refused, ipxe\.efi not written/m);
    assert.match(cli.stdout, /^installed\s+undionly\.kpxe /m);
    assert.match(cli.stdout, /2 refused/);
    const syslinuxEfi = manifest.find((s) => s.serveAs === 'syslinux.efi')!;
    if (!existsSync(syslinuxEfi.path)) assert.match(cli.stdout, new RegExp(`^missing\\s+syslinux\\.efi .*${path.join(mirror, syslinuxEfi.path).replace(/\./g, '\\.')} or .*dpkg-deb -x`, 'm'));
  });
});
