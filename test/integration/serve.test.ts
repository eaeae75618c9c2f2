import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { REPO_ROOT, runCli, spawnCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

/** Collects a child's stdout as JSON log lines and resolves when one matches. */
function waitForLog(child: ReturnType<typeof spawnCli>, match: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; got:\n${buf}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        try {
          const obj = JSON.parse(line) as Record<string, unknown>;
          if (match(obj)) {
            clearTimeout(timer);
            resolve(obj);
          }
        } catch {
          /* partial line */
        }
      }
    });
  });
}

describe('rhevboot serve', () => {
  it('starts on a config file, serves /healthz, and stops cleanly on SIGTERM and SIGINT', async () => {
    const dir = await tempDir();
    const config = path.join(dir, 'rhevboot.yaml');
    await writeFile(config, `stateDir: ${dir}/state\nhttp:\n  host: 127.0.0.1\n  port: 0\ntftp:\n  host: 127.0.0.1\n  port: 0\n`);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const child = spawnCli(['serve', '--config', config]);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        const ready = await waitForLog(child, (l) => l.msg === 'rhevboot ready');
        const port = (ready.http as { port: number }).port;
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        assert.equal(res.status, 200);
        const stopped = waitForLog(child, (l) => l.msg === 'rhevboot stopped');
        child.kill(signal);
        await stopped;
        assert.equal(await exited, 0, `exit code after ${signal}`);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    const fileLog = await readFile(path.join(dir, 'state/logs/rhevboot.log'), 'utf8');
    assert.match(fileLog, /"msg":"rhevboot stopped"/);
  });

  it('refuses an invalid config at start, naming the key, and exits non-zero', async () => {
    const dir = await tempDir();
    const config = path.join(dir, 'bad.yaml');
    await writeFile(config, `stateDir: ${dir}\nhttp:\n  prot: 8080\n`);
    const r = await runCli(['serve', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_CONFIG: .*bad\.yaml: invalid config key 'http\.prot': unknown key/);
    const env = await runCli(['config', 'check'], { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_PORT: '-1' });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /'http\.port'.*RHEVBOOT_HTTP_PORT/);
  });

  it('config show lists every key with its source', async () => {
    const dir = await tempDir();
    const r = await runCli(['config', 'show'], { RHEVBOOT_STATE_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`stateDir\\s+"${dir}"\\s+env\\s+RHEVBOOT_STATE_DIR`));
    assert.match(r.stdout, /http\.port\s+80\s+default\s+RHEVBOOT_HTTP_PORT/);
  });

  it('token create/ls/rm: the token is printed once and works against the API', async () => {
    const dir = await tempDir();
    const env = { RHEVBOOT_STATE_DIR: dir };
    const created = await runCli(['token', 'create', 'ops'], env);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^rbt_/);
    const ls = await runCli(['token', 'ls', '--json'], env);
    const list = JSON.parse(ls.stdout) as { name: string }[];
    assert.deepEqual(list.map((t) => t.name), ['ops']);
    assert.ok(!ls.stdout.includes(token.slice(4)));
    assert.equal((await runCli(['token', 'create', 'ops'], env)).code, 1);
    assert.equal((await runCli(['token', 'rm', 'ops'], env)).code, 0);
    const again = await runCli(['token', 'rm', 'ops'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /RB_ERR_NOT_FOUND/);
    assert.equal((await runCli(['token', 'create', '../bad name'], env)).code, 1);
  });

  it('a wrong command line exits 2 with usage help', async () => {
    const r = await runCli(['copycds']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing required argument 'iso'/);
  });
});

describe('systemd unit', () => {
  const unit = path.join(REPO_ROOT, 'systemd/rhevboot.service');

  it('passes systemd-analyze verify', async () => {
    const { stderr } = await exec('systemd-analyze', ['verify', unit]);
    assert.equal(stderr.trim(), '');
  });

  it('runs as a dedicated user with only CAP_NET_BIND_SERVICE, a state directory, restart and hardening', async () => {
    const text = await readFile(unit, 'utf8');
    for (const line of [
      'User=rhevboot',
      'StateDirectory=rhevboot',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'Restart=on-failure',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'ExecStart=/usr/bin/env rhevboot serve',
      'ProtectProc=invisible',
      'ProcSubset=pid',
      'PrivateMounts=yes',
      'RemoveIPC=yes',
      // os.networkInterfaces() (the provisioning address) is getifaddrs, which is netlink.
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    ]) {
      assert.ok(text.split('\n').includes(line), `missing ${line}`);
    }
    // In a user namespace CAP_NET_BIND_SERVICE does not cover the host's network namespace: 67, 69 and 80 would not bind.
    assert.doesNotMatch(text, /^PrivateUsers=/m);
  });

  it('keeps systemd-analyze security exposure at 1.6 or below', async () => {
    const { stdout } = await exec('systemd-analyze', ['security', '--offline=yes', unit]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const m = /Overall exposure level for rhevboot\.service: (\d+\.\d+)/.exec(stdout);
    assert.ok(m, stdout);
    assert.ok(Number(m[1]) <= 1.6, `exposure ${m[1]}:\n${stdout}`);
  });
});
