import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BOOTSTRAP_TOKEN_FILE, startAppliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { REPO_ROOT, runCli, spawnCli } from '../helpers/cli.js';
import { bsdtarExtract, diffTrees, run, snapshotTree } from '../helpers/iso-build.js';
import { makeRhevhIso } from '../helpers/rhevh-iso.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

interface Env {
  dir: string;
  env: NodeJS.ProcessEnv;
  installDir: string;
}

async function freshEnv(): Promise<Env> {
  const dir = await tempDir('rhevboot-copycds-');
  const installDir = path.join(dir, 'install');
  return { dir, installDir, env: { RHEVBOOT_STATE_DIR: path.join(dir, 'state'), RHEVBOOT_INSTALL_DIR: installDir } };
}

async function distros(env: NodeJS.ProcessEnv): Promise<{ name: string; arch: string; isoSha256: string; fileCount: number; bytes: number; volumeId: string; version: string; pxeInitrdSha256: string; pxeInitrdBytes: number }[]> {
  const r = await runCli(['distro', 'ls', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('copycds', () => {
  let work: string;
  let iso: string;
  let isoSha: string;

  before(async () => {
    work = await tempDir('rhevboot-isos-');
    iso = path.join(work, 'RHEVH-6.5-20140603.2.el6ev.iso');
    await makeRhevhIso(work, iso);
    isoSha = await sha256(iso);
  });

  it('imports a RHEV-H ISO: tree, raw ISO, boot files as bsdtar extracts them, PXE initrd, distro record', async () => {
    const { env, installDir, dir } = await freshEnv();
    const r = await runCli(['copycds', iso], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported rhevh6\.5\/x86_64 \(rhevh 6\.5, volume 'RHEV-Hypervisor-6\.5-20140603\.2'\)/);
    const tree = path.join(installDir, 'rhevh6.5/x86_64');

    // The raw ISO, byte for byte.
    assert.equal(await sha256(path.join(tree, 'rhevh.iso')), isoSha);

    // isolinux/ exactly as bsdtar extracts it from the same image.
    const oracle = path.join(dir, 'oracle');
    await bsdtarExtract(iso, oracle);
    const theirs = await snapshotTree(path.join(oracle, 'isolinux'));
    const ours = await snapshotTree(path.join(tree, 'isolinux'));
    assert.deepEqual(diffTrees(ours, theirs), []);
    assert.ok(!existsSync(path.join(tree, 'LiveOS')), 'only the boot files are extracted');

    // PXE initrd = original initrd0.img, zero padding to 4 bytes, newc cpio holding rhevh.iso.
    const base = await readFile(path.join(tree, 'isolinux/initrd0.img'));
    const pxePath = path.join(tree, 'pxe/initrd0.img');
    const pxe = await readFile(pxePath);
    assert.ok(pxe.subarray(0, base.length).equals(base), 'the PXE initrd starts with the original initrd');
    const offset = Math.ceil(base.length / 4) * 4;
    assert.ok(pxe.subarray(base.length, offset).every((b) => b === 0));
    assert.equal(pxe.subarray(offset, offset + 6).toString(), '070701');
    const appended = path.join(dir, 'appended.cpio');
    await writeFile(appended, pxe.subarray(offset));
    assert.equal((await run('cpio', ['-t', '--quiet', '-F', appended])).trim(), 'rhevh.iso');
    const inner = path.join(dir, 'inner');
    await run('sh', ['-c', `mkdir -p '${inner}' && cd '${inner}' && cpio -id --quiet -F '${appended}'`]);
    assert.equal(await sha256(path.join(inner, 'rhevh.iso')), isoSha);

    const [d] = await distros(env);
    assert.ok(d);
    assert.equal(d.name, 'rhevh6.5');
    assert.equal(d.arch, 'x86_64');
    assert.equal(d.version, '6.5');
    assert.equal(d.volumeId, 'RHEV-Hypervisor-6.5-20140603.2');
    assert.equal(d.isoSha256, isoSha);
    assert.equal(d.pxeInitrdSha256, createHash('sha256').update(pxe).digest('hex'));
    assert.equal(d.pxeInitrdBytes, pxe.length);
    assert.equal(d.fileCount, ours.size - [...ours.values()].filter((i) => i.type === 'dir').length + 2);
    assert.ok(d.bytes > pxe.length);

    // Nothing left over from staging, and the job is recorded as succeeded.
    assert.deepEqual((await readdir(path.join(installDir, 'rhevh6.5'))).sort(), ['x86_64']);
    const show = await runCli(['distro', 'show', 'rhevh6.5'], env);
    assert.match(show.stdout, new RegExp(`iso sha256\\s+${isoSha}`));
  });

  it('leaves no job progress write behind the store: nothing "not recorded" in its output, the job ends at register 1/1', async () => {
    const { env, dir } = await freshEnv();
    // At debug, so that a warning or anything below it about the job would show on stderr.
    const r = await runCli(['--log-level', 'debug', 'copycds', iso, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const output = r.stdout + r.stderr;
    assert.doesNotMatch(output, /not recorded/);
    assert.doesNotMatch(output, /database connection is not open/);
    const db = new Database(path.join(dir, 'state/rhevboot.db'), { readonly: true });
    const jobs = db.prepare("SELECT state, progress FROM jobs WHERE kind = 'copycds'").all() as { state: string; progress: string }[];
    db.close();
    assert.deepEqual(jobs.map((j) => [j.state, JSON.parse(j.progress)]), [['succeeded', { phase: 'register', done: 1, total: 1 }]]);
  });

  it('re-running on the same ISO is a no-op that says so; --force re-imports (initrd from the cache)', async () => {
    const { env, installDir } = await freshEnv();
    assert.equal((await runCli(['copycds', iso, '-q'], env)).code, 0);
    const pxe = path.join(installDir, 'rhevh6.5/x86_64/pxe/initrd0.img');
    const before = await stat(pxe);

    const again = await runCli(['copycds', iso], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already imported from this ISO .*nothing to do/);
    const after = await stat(pxe);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);

    const forced = await runCli(['copycds', iso, '--force', '--json'], env);
    assert.equal(forced.code, 0, forced.stderr);
    const lines = forced.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; status?: string; notes?: string[]; phase?: string });
    const result = lines.at(-1)!;
    assert.equal(result.event, 'result');
    assert.equal(result.status, 'imported');
    assert.ok(result.notes!.some((n) => /taken from the cache/.test(n)), JSON.stringify(result.notes));
    assert.ok(lines.some((l) => l.event === 'progress' && l.phase === 'copy'));
    assert.equal((await distros(env)).length, 1);
  });

  it('a different ISO that would land on an imported name is refused and changes nothing', async () => {
    const { env, installDir } = await freshEnv();
    assert.equal((await runCli(['copycds', iso, '-q'], env)).code, 0);
    const other = path.join(work, 'other.iso');
    await makeRhevhIso(work, other, { flavour: 'other build' });
    const r = await runCli(['copycds', other], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_CONFLICT: distro rhevh6\.5\/x86_64 was imported from a different ISO .*--force/);
    assert.equal(await sha256(path.join(installDir, 'rhevh6.5/x86_64/rhevh.iso')), isoSha);
    // Under another name it imports beside the first.
    const beside = await runCli(['copycds', other, '--name', 'rhevh6.5-b', '-q'], env);
    assert.equal(beside.code, 0, beside.stderr);
    assert.deepEqual((await distros(env)).map((d) => d.name), ['rhevh6.5', 'rhevh6.5-b']);
  });

  it('refuses an ISO that is not RHEV-H, saying what it looked for and what it found', async () => {
    const { env, installDir } = await freshEnv();
    const plain = path.join(work, 'debian-like.iso');
    const src = path.join(work, 'debian-tree');
    await run('sh', ['-c', `mkdir -p '${src}/isolinux' '${src}/install.amd' '${src}/pool' && echo 'default vesamenu.c32' > '${src}/isolinux/isolinux.cfg' && echo k > '${src}/install.amd/vmlinuz'`]);
    await run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'Debian 12.5.0 amd64 n', '-o', plain, src]);
    const r = await runCli(['copycds', plain], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_NOT_DISTRO: .*debian-like\.iso is not a recognised hypervisor ISO \(volume id 'Debian 12\.5\.0 amd64 n'\)/);
    assert.match(r.stderr, /missing: isolinux\/vmlinuz0, isolinux\/initrd0\.img, LiveOS\/squashfs\.img/);
    assert.match(r.stderr, /found at the top level: install\.amd\/, isolinux\/, pool\//);
    assert.ok(!existsSync(installDir), 'nothing written');
    assert.deepEqual(await distros(env), []);
  });

  it('asks for --name when none can be derived, and refuses unsafe names', async () => {
    const { env, installDir } = await freshEnv();
    const anon = path.join(work, 'anon.iso');
    await makeRhevhIso(work, anon, { volumeId: 'CDROM', isolinuxCfg: 'label linux\n append initrd=initrd0.img root=live:CDLABEL=CDROM\n' });
    const r = await runCli(['copycds', anon], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no name can be derived from volume id 'CDROM'.*pass --name/);
    for (const bad of ['../../etc', 'a/b', '.x']) {
      const b = await runCli(['copycds', anon, '--name', bad], env);
      assert.equal(b.code, 1, bad);
      assert.match(b.stderr, /RB_ERR_INVALID: distro name/);
    }
    const wrongArch = await runCli(['copycds', anon, '--name', 'rhevh-x', '--arch', 'ppc64le'], env);
    assert.match(wrongArch.stderr, /arch 'ppc64le' is not one of rhevh's \(x86_64\)/);
    assert.ok(!existsSync(installDir));
    const ok = await runCli(['copycds', anon, '--name', 'rhevh-custom', '--arch', 'amd64', '-q'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(existsSync(path.join(installDir, 'rhevh-custom/x86_64/rhevh.iso')));
  });

  it('refuses ISOs of 4 GiB or more before reading them (newc cannot hold them)', async () => {
    const { env } = await freshEnv();
    const huge = path.join(work, 'huge.iso');
    await writeFile(huge, '');
    await truncate(huge, 2 ** 32);
    const r = await runCli(['copycds', huge], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /4294967296 bytes; .*newc cpio, which cannot hold 4 GiB or more/);
  });

  it('refuses a truncated image with a clear error and registers nothing', async () => {
    const { env, installDir } = await freshEnv();
    const cut = path.join(work, 'cut.iso');
    const data = await readFile(iso);
    await writeFile(cut, data.subarray(0, 40 * 2048));
    const r = await runCli(['copycds', cut], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_ISO_|cut\.iso/);
    assert.doesNotMatch(r.stderr, /unexpected error/);
    assert.deepEqual(await distros(env), []);
    assert.ok(!existsSync(path.join(installDir, 'rhevh6.5/x86_64')));
  });

  it('an import killed with SIGKILL leaves no distro; the next run cleans up and completes', async () => {
    const { env, installDir } = await freshEnv();
    const big = path.join(work, 'big.iso');
    await makeRhevhIso(work, big, { squashBytes: 400 * 1024 * 1024, flavour: 'big' });
    const child = spawnCli(['copycds', big, '--json'], env);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no copy progress seen: ${out}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/"phase":"copy"/.test(out)) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => child.on('close', r));
    assert.deepEqual(await distros(env), [], 'no half-registered distro');
    const debris = await readdir(path.join(installDir, 'rhevh6.5'));
    assert.ok(debris.some((e) => e.startsWith('.x86_64.partial-')), `staging debris expected, found ${debris.join(',')}`);

    const again = await runCli(['copycds', big], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /note: removed .*\.x86_64\.partial-/);
    assert.deepEqual(await readdir(path.join(installDir, 'rhevh6.5')), ['x86_64']);
    const [d] = await distros(env);
    assert.equal(d?.isoSha256, await sha256(big));
    const jobs = await runCli(['distro', 'ls'], env);
    assert.match(jobs.stdout, /rhevh6\.5\s+x86_64\s+rhevh/);
  });

  it('distro rm deletes the tree and prunes the initrd cache', async () => {
    const { env, installDir, dir } = await freshEnv();
    assert.equal((await runCli(['copycds', iso, '-q'], env)).code, 0);
    const cache = path.join(dir, 'state/cache/initrd');
    assert.equal((await readdir(cache)).filter((f) => f.endsWith('.img')).length, 1);
    const r = await runCli(['distro', 'rm', 'rhevh6.5'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(path.join(installDir, 'rhevh6.5/x86_64')));
    assert.deepEqual(await distros(env), []);
    assert.deepEqual((await readdir(cache)).filter((f) => f.endsWith('.img')), []);
    const missing = await runCli(['distro', 'rm', 'rhevh6.5'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /RB_ERR_NOT_FOUND: no distro named rhevh6\.5/);
  });

  it('gzip mode compresses only the appended member, and the result still lists rhevh.iso', async () => {
    const { env, installDir, dir } = await freshEnv();
    const r = await runCli(['copycds', iso, '--compress', 'gzip', '-q'], env);
    assert.equal(r.code, 0, r.stderr);
    const tree = path.join(installDir, 'rhevh6.5/x86_64');
    const base = await readFile(path.join(tree, 'isolinux/initrd0.img'));
    const pxe = await readFile(path.join(tree, 'pxe/initrd0.img'));
    const offset = Math.ceil(base.length / 4) * 4;
    assert.deepEqual([...pxe.subarray(offset, offset + 2)], [0x1f, 0x8b]);
    const member = path.join(dir, 'member.gz');
    await writeFile(member, pxe.subarray(offset));
    assert.equal((await run('sh', ['-c', `gzip -dc '${member}' | cpio -t --quiet`])).trim(), 'rhevh.iso');
  });

  it('the API imports as a job: 202 with the job id, then the job and the distro', async () => {
    const { env } = await freshEnv();
    const loaded = loadConfig({ env: { ...env, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_LOG_FILE: 'false' } });
    const app = await startAppliance(loaded, { log: createCliLogger('silent') });
    try {
      const token = (await readFile(path.join(loaded.config.stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
      const base = `http://127.0.0.1:${app.httpAddress.port}/api/v1`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const res = await fetch(`${base}/distros`, { method: 'POST', headers, body: JSON.stringify({ iso }) });
      assert.equal(res.status, 202);
      const { jobId, distro } = (await res.json()) as { jobId: string; distro: string };
      assert.equal(distro, 'rhevh6.5/x86_64');
      const job = await waitFor(
        async () => {
          const j = (await (await fetch(`${base}/jobs/${jobId}`, { headers })).json()) as { state: string; progress: { phase: string } };
          return j.state !== 'running' && j;
        },
        { what: 'the import job to finish', timeoutMs: 30_000, intervalMs: 100 },
      );
      assert.equal(job.state, 'succeeded');
      const d = (await (await fetch(`${base}/distros/rhevh6.5`, { headers })).json()) as { isoSha256: string };
      assert.equal(d.isoSha256, isoSha);
      const again = await fetch(`${base}/distros`, { method: 'POST', headers, body: JSON.stringify({ iso }) });
      assert.equal(again.status, 200);
      assert.equal(((await again.json()) as { status: string }).status, 'unchanged');
      const events = (await (await fetch(`${base}/events?subject=rhevh6.5/x86_64`, { headers })).json()) as { kind: string }[];
      assert.deepEqual(events.map((e) => e.kind), ['distro.import.started', 'distro.imported']);
    } finally {
      await app.stop();
    }
  });

  it('shows a progress bar on a terminal and plain lines otherwise', async () => {
    const { env } = await freshEnv();
    // script(1) gives the CLI a pseudo-terminal, as an admin's shell would.
    const main = path.join(REPO_ROOT, 'src/cli/main.ts');
    const tty = await run('script', ['-qfec', `${process.execPath} --import tsx ${main} copycds ${iso}`, '/dev/null'], {
      env: { ...env, RHEVBOOT_CONFIG: '' },
    });
    assert.match(tty, /extracting boot files\s+\[[\u2588\u2591]+\] 100%/);
    assert.match(tty, /copying ISO \+ initrd\s+\[[\u2588\u2591]+\] 100%/);
    assert.match(tty, /imported rhevh6\.5\/x86_64/);

    const { env: env2 } = await freshEnv();
    const plain = await runCli(['copycds', iso], env2);
    assert.match(plain.stderr, /^copycds: copying ISO \+ initrd \d+% \(/m);
    assert.doesNotMatch(plain.stderr, /\u2588/);
  });

  it('SIGTERM during an API import aborts it cleanly: failed job, no debris, no distro', async () => {
    const { env, installDir, dir } = await freshEnv();
    const big = path.join(work, 'big-term.iso');
    await makeRhevhIso(work, big, { squashBytes: 500 * 1024 * 1024, flavour: 'term' });
    const child = spawnCli(['serve'], { ...env, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
        const poll = setInterval(() => {
          const m = out.match(/"http":\{"host":"[^"]+","port":(\d+)\}[^\n]*"msg":"rhevboot ready"/);
          if (m) (clearInterval(poll), clearTimeout(timer), resolve(Number(m[1])));
        }, 50);
      });
      const token = (await readFile(path.join(dir, 'state', BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/distros`, { method: 'POST', headers, body: JSON.stringify({ iso: big }) });
      assert.equal(res.status, 202);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.match(out, /"msg":"aborting background work"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    assert.deepEqual(await distros(env), []);
    assert.deepEqual(await readdir(path.join(installDir, 'rhevh6.5')), [], 'staging removed');
    const cache = path.join(dir, 'state/cache/initrd');
    assert.deepEqual((await readdir(cache).catch(() => [])).filter((f) => !f.endsWith('.sha256')), [], 'no partial initrd left');
    const r = await runCli(['copycds', big, '--json', '-q'], env);
    assert.equal(r.code, 0, r.stderr);
  });
});
