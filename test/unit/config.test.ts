import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_KEYS, envNameFor } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { isRhevbootError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

function configError(fn: () => unknown): { message: string; key: unknown } {
  try {
    fn();
  } catch (err) {
    assert.ok(isRhevbootError(err, 'RB_ERR_CONFIG'), `expected RB_ERR_CONFIG, got ${String(err)}`);
    return { message: err.message, key: err.details.key };
  }
  assert.fail('expected the config to be refused');
}

describe('config', () => {
  it('uses the embedded defaults when there is no file', () => {
    const { config, sources, file } = loadConfig({ env: {} });
    assert.equal(file, undefined);
    assert.equal(config.stateDir, '/var/lib/rhevboot');
    assert.equal(config.installDir, '/var/lib/rhevboot/install');
    assert.equal(config.http.port, 80);
    assert.equal(config.media.initrdCompression, 'none');
    assert.ok(Object.values(sources).every((s) => s === 'default'));
  });

  it('every key has a documented default and an environment name', () => {
    for (const k of CONFIG_KEYS) {
      assert.ok(k.doc.length > 10, `${k.key} has no doc`);
      assert.ok(k.default !== undefined, `${k.key} has no default`);
      assert.match(envNameFor(k.key), /^RHEVBOOT_[A-Z0-9_]+$/);
    }
    assert.equal(envNameFor('stateDir'), 'RHEVBOOT_STATE_DIR');
    assert.equal(envNameFor('http.bodyLimit'), 'RHEVBOOT_HTTP_BODY_LIMIT');
  });

  it('reads a YAML file, resolves relative paths against its directory, derives installDir', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'rhevboot.yaml');
    await writeFile(file, 'stateDir: ./state\nhttp:\n  port: 8080\nlog:\n  level: debug\n');
    const { config, sources } = loadConfig({ file, env: {} });
    assert.equal(config.stateDir, path.join(dir, 'state'));
    assert.equal(config.installDir, path.join(dir, 'state', 'install'));
    assert.equal(config.http.port, 8080);
    assert.equal(config.log.level, 'debug');
    assert.equal(sources.stateDir, 'file');
    assert.equal(sources.installDir, 'default');
  });

  it('takes the file from RHEVBOOT_CONFIG and lets environment variables override it', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'http:\n  port: 8080\nlog:\n  file: true\n');
    const { config, sources } = loadConfig({ env: { RHEVBOOT_CONFIG: file, RHEVBOOT_HTTP_PORT: '9090', RHEVBOOT_LOG_FILE: 'no' }, cwd: dir });
    assert.equal(config.http.port, 9090);
    assert.equal(config.log.file, false);
    assert.equal(sources['http.port'], 'env');
  });

  it('refuses an unknown key, naming it and suggesting the right spelling', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'statedir: /x\n');
    const e = configError(() => loadConfig({ file, env: {} }));
    assert.equal(e.key, 'statedir');
    assert.match(e.message, /unknown key.*did you mean 'stateDir'/);
    assert.ok(e.message.includes(file));
  });

  it('refuses a value of the wrong type or range, naming the key and the reason', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'http:\n  port: 70000\n');
    let e = configError(() => loadConfig({ file, env: {} }));
    assert.equal(e.key, 'http.port');
    assert.match(e.message, /http\.port.*70000/);

    await writeFile(file, 'log:\n  level: loud\n');
    e = configError(() => loadConfig({ file, env: {} }));
    assert.equal(e.key, 'log.level');

    e = configError(() => loadConfig({ env: { RHEVBOOT_HTTP_PORT: 'eighty' } }));
    assert.equal(e.key, 'http.port');
    assert.match(e.message, /RHEVBOOT_HTTP_PORT/);

    e = configError(() => loadConfig({ env: { RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.0.0.300/24' }]) } }));
    assert.equal(e.key, 'dhcp.subnets');
    e = configError(() => loadConfig({ env: { RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.0.0.0/24', pools: ['10.0.1.1-10.0.1.9'] }]) } }));
    assert.match(e.message, /pool 10\.0\.1\.1-10\.0\.1\.9 must be a valid ascending range inside 10\.0\.0\.0\/24/);
    e = configError(() => loadConfig({ env: { RHEVBOOT_MEDIA_MAX_ISO_BYTES: String(2 ** 32) } }));
    assert.equal(e.key, 'media.maxIsoBytes');
    assert.match(e.message, /4 GiB/);
  });

  it('refuses a file that is not YAML, with the line', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'stateDir: /a\nhttp: [unclosed\n');
    const e = configError(() => loadConfig({ file, env: {} }));
    assert.match(e.message, /c\.yaml:\d+: not valid YAML/);
    configError(() => loadConfig({ file: path.join(dir, 'missing.yaml'), env: {} }));
  });
});
