/**
 * The error table (src/errors.ts) is the one list of codes: every code the sources raise or
 * report is in it, the API face reads its statuses from it, and the README names them all.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERRORS, httpStatusFor, RhevbootError, type ErrorCode } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/cli.js';

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

describe('error table', () => {
  it('has every code the sources use', async () => {
    const missing = new Set<string>();
    for (const file of await sources(path.join(REPO_ROOT, 'src'))) {
      for (const [, code] of (await readFile(file, 'utf8')).matchAll(/['"](RB_ERR_[A-Z0-9_]+)['"]/g)) if (!(code! in ERRORS)) missing.add(`${code} (${path.relative(REPO_ROOT, file)})`);
    }
    assert.deepEqual([...missing], []);
  });

  it('gives each code its status and a one-line meaning', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      assert.equal(httpStatusFor(code as ErrorCode), e.status);
      assert.ok(e.status >= 400 && e.status < 600, code);
      assert.ok(e.message.length > 0 && !e.message.includes('\n'), code);
    }
    assert.equal(httpStatusFor(new RhevbootError('RB_ERR_TRANSITION', 'x').code), 409);
  });

  it('every status it maps to is named in the README', async () => {
    const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const paragraph = /Errors are always[\s\S]*?\n\n/.exec(readme)?.[0] ?? '';
    for (const status of new Set(Object.values(ERRORS).map((e) => e.status))) assert.match(paragraph, new RegExp(`\\b${status}\\b`), `README's errors paragraph does not name ${status}`);
  });
});
