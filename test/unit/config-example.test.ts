import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { configExampleYaml } from '../../src/config/example.js';
import { CONFIG_KEYS, envNameFor } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const SHIPPED = path.join(REPO_ROOT, 'systemd/rhevboot.yaml.example');

describe('config example', () => {
  it('is shipped as systemd/rhevboot.yaml.example, in sync with the key table', async () => {
    assert.equal(await readFile(SHIPPED, 'utf8'), configExampleYaml(), 'systemd/rhevboot.yaml.example is stale: regenerate it with `npm run docs`');
  });

  it('loads to exactly the embedded defaults, every value from the file except the derived keys', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'rhevboot.yaml');
    await writeFile(file, configExampleYaml());
    const fromFile = loadConfig({ file, env: {} });
    assert.deepEqual(fromFile.config, loadConfig({ env: {} }).config);
    for (const k of CONFIG_KEYS) assert.equal(fromFile.sources[k.key], typeof k.default === 'function' ? 'default' : 'file', k.key);
  });

  it('documents every key with its doc and environment variable; uncommenting a derived key changes nothing', async () => {
    const text = configExampleYaml();
    for (const k of CONFIG_KEYS) {
      assert.ok(text.includes(`# environment: ${envNameFor(k.key)}\n`), `${k.key}: environment variable missing`);
      const firstWords = k.doc.split(/\s+/).slice(0, 4).join(' ');
      assert.ok(text.replace(/\n\s*# /g, ' ').includes(firstWords), `${k.key}: doc missing`);
    }
    // Every line is a comment, blank, a section or an indented key: plain YAML an admin can edit.
    const uncommented = text.replace(/^(\s*)# ((?:installDir|root): )/gm, '$1$2');
    assert.equal(parseDocument(uncommented).errors.length, 0);
    const dir = await tempDir();
    const file = path.join(dir, 'rhevboot.yaml');
    await writeFile(file, uncommented);
    const loaded = loadConfig({ file, env: {} });
    assert.equal(loaded.sources['installDir'], 'file');
    assert.equal(loaded.sources['tftp.root'], 'file');
    assert.deepEqual(loaded.config, loadConfig({ env: {} }).config);
  });

  it('is what `rhevboot config example` prints', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const r = await runCli(['config', 'example']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, configExampleYaml());
  });
});
