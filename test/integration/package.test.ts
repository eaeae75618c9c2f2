/**
 * The npm package is self-sufficient: `npm pack` (whose prepack builds dist/) holds everything the
 * installed `rhevboot` reads at run time and nothing of the sources or tests, and the unpacked
 * tarball runs with nothing but its declared dependencies next to it. The repo's node_modules
 * stands in for those (a real `npm install -g` would compile better-sqlite3 from source).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configExampleYaml } from '../../src/config/example.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, RHEVBOOT_CONFIG: '', ...opts.env }, encoding: 'utf8', timeout: opts.timeout ?? 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('npm package', () => {
  it('packs what the installed rhevboot needs, and the unpacked package runs on its own', { timeout: 600_000 }, async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.equal(pkg.scripts['prepack'], 'npm run build', 'npm pack must build dist/ first');

    const dest = await tempDir();
    // Not --dry-run: the tarball is what gets installed, and prepack builds dist/ on the way.
    const packed = run('npm', ['pack', '--json', '--pack-destination', dest], { timeout: 480_000 });
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.stdout}\n${packed.stderr}`);
    // Lifecycle output (the build) may precede the JSON on stdout.
    const [result] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as PackResult[];
    const files = result!.files.map((f) => f.path);

    for (const needed of ['package.json', 'README.md', 'bin/rhevboot.js', 'dist/cli/main.js', 'dist/appliance.js', 'boot/manifest.yaml', 'distro/rhevh.yaml', 'systemd/rhevboot.service', 'systemd/rhevboot.yaml.example', 'src/native/binding.gyp', 'src/native/udp_batch.c']) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
    assert.ok(files.some((f) => f.startsWith('templates/')), 'the boot-config templates are not in the package');
    assert.ok(files.includes(pkg.bin['rhevboot']!), 'the bin entry is not in the package');
    // The TFTP socket addon ships as C source: `npm install` compiles it where it runs.
    const stray = files.filter(
      (f) => (/^(src|test|bench|\.ci|node_modules|state|\.cache|dist\/test)\//.test(f) && !/^src\/native\/(binding\.gyp|udp_batch\.c)$/.test(f)) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)),
    );
    assert.deepEqual(stray, [], 'sources, tests or local state in the package');

    const root = await tempDir();
    const tar = run('tar', ['-xzf', path.join(dest, result!.filename), '-C', root]);
    assert.equal(tar.code, 0, tar.stderr);
    const unpacked = path.join(root, 'package');
    await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(unpacked, 'node_modules'), 'dir');
    const bin = path.join(unpacked, 'bin/rhevboot.js');
    const state = await tempDir();
    const env = { RHEVBOOT_STATE_DIR: state, RHEVBOOT_LOG_FILE: 'false', RHEVBOOT_HTTP_PORT: '1', RHEVBOOT_TFTP_PORT: '1' };
    const cli = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: root, env });

    const version = cli('--version');
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), (JSON.parse(await readFile(path.join(unpacked, 'package.json'), 'utf8')) as { version: string }).version);
    const show = cli('config', 'show');
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`stateDir\\s+"${state}"\\s+env`));
    const example = cli('config', 'example');
    assert.equal(example.code, 0, example.stderr);
    assert.equal(example.stdout, configExampleYaml());
    assert.equal(example.stdout, await readFile(path.join(unpacked, 'systemd/rhevboot.yaml.example'), 'utf8'));
    // doctor reads boot/manifest.yaml and distro/ from the package itself (nothing listens here, so it exits 1).
    const doctor = cli('doctor', '--json');
    assert.equal(doctor.code, 1, doctor.stderr);
    const checks = (JSON.parse(doctor.stdout) as { checks: { id: string; message: string }[] }).checks;
    assert.ok(checks.some((c) => c.id === 'loader:pxelinux.0'), 'the package could not read its boot/manifest.yaml');
    assert.deepEqual(checks.filter((c) => /the check itself failed/.test(c.message)), []);
  });
});
