import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { configReferenceMarkdown } from '../../src/config/reference.js';
import { REPO_ROOT } from '../helpers/cli.js';

const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');

function commandPaths(cmd: Command, prefix: string): string[] {
  return cmd.commands.flatMap((c) => (c.commands.length ? commandPaths(c, `${prefix} ${c.name()}`) : [`${prefix} ${c.name()}`]));
}

describe('README', () => {
  it('carries the configuration reference generated from the key table', () => {
    const m = readme.match(/<!-- config-reference:start[^\n]*-->\n([\s\S]*?)\n<!-- config-reference:end -->/);
    assert.ok(m, 'config reference markers missing');
    assert.equal(m[1], configReferenceMarkdown(), 'README config reference is stale: regenerate it from src/config/keys.ts');
  });

  it('documents every CLI command', () => {
    for (const p of commandPaths(buildProgram(), 'rhevboot')) assert.ok(readme.includes(`\`${p}`), `README does not document ${p}`);
  });

  it('gives the two set-up commands, and .ci/run runs the same test command', async () => {
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /\nnpm test /);
    const ci = await readFile(path.join(REPO_ROOT, '.ci/run'), 'utf8');
    assert.match(ci, /\nnpm test\n/);
  });
});
