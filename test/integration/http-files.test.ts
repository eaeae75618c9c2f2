import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

describe('HTTP boot files', () => {
  let app: Appliance;
  let base: string;
  let dir: string;
  const big = randomBytes(48 * 1024 * 1024 + 123);
  const small = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

  before(async () => {
    dir = await tempDir('rhevboot-httpfiles-');
    const tree = path.join(dir, 'install/rhevh6.5/x86_64');
    await mkdir(path.join(tree, 'pxe'), { recursive: true });
    await mkdir(path.join(dir, 'install/rhevh6.5/.x86_64.partial-job'), { recursive: true });
    await mkdir(path.join(dir, 'tftpboot'), { recursive: true });
    await writeFile(path.join(tree, 'pxe/initrd0.img'), big);
    await writeFile(path.join(tree, 'small.txt'), small);
    await writeFile(path.join(tree, 'empty'), '');
    await writeFile(path.join(dir, 'install/rhevh6.5/.x86_64.partial-job/secret'), 'staging');
    await writeFile(path.join(dir, 'outside.txt'), 'outside');
    await symlink(path.join(dir, 'outside.txt'), path.join(tree, 'escape'));
    await symlink('small.txt', path.join(tree, 'inside-link'));
    await writeFile(path.join(dir, 'tftpboot/ipxe.efi'), 'EFI');
    const loaded = loadConfig({
      env: { RHEVBOOT_STATE_DIR: path.join(dir, 'state'), RHEVBOOT_INSTALL_DIR: path.join(dir, 'install'), RHEVBOOT_TFTP_ROOT: path.join(dir, 'tftpboot'), RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' },
    });
    app = await startAppliance(loaded, { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
  });
  after(() => app?.stop());

  it('serves a large initrd byte for byte to curl, without a token', async () => {
    const out = path.join(dir, 'got.img');
    await exec('curl', ['-sSf', '-o', out, `${base}/install/rhevh6.5/x86_64/pxe/initrd0.img`]);
    const { stdout } = await exec('sha256sum', [out]);
    assert.equal(stdout.split(' ')[0], createHash('sha256').update(big).digest('hex'));
  });

  it('HEAD, Range, ETag and conditional requests', async () => {
    const url = `${base}/install/rhevh6.5/x86_64/small.txt`;
    let res = await fetch(url, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(small.length));
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    const etag = res.headers.get('etag')!;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(await res.text(), '');

    const range = async (r: string) => fetch(url, { headers: { range: r } });
    res = await range('bytes=10-15');
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), `bytes 10-15/${small.length}`);
    assert.equal(await res.text(), 'abcdef');
    res = await range('bytes=-4');
    assert.equal(await res.text(), 'wxyz');
    res = await range('bytes=30-');
    assert.equal(await res.text(), 'uvwxyz');
    res = await range('bytes=30-1000');
    assert.equal(await res.text(), 'uvwxyz');
    res = await range('bytes=100-');
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), `bytes */${small.length}`);
    res = await range('bytes=0-1,5-6');
    assert.equal(res.status, 200, 'multiple ranges: the whole file');
    res = await fetch(url, { headers: { range: 'bytes=0-3', 'if-range': '"stale"' } });
    assert.equal(res.status, 200, 'If-Range mismatch: the whole file');
    res = await fetch(url, { headers: { 'if-none-match': etag } });
    assert.equal(res.status, 304);
    res = await fetch(`${base}/install/rhevh6.5/x86_64/empty`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');

    const { stdout } = await exec('curl', ['-sSf', '-r', '1000-1999', `${base}/install/rhevh6.5/x86_64/pxe/initrd0.img`], { encoding: 'buffer', maxBuffer: 1 << 20 });
    assert.ok((stdout as Buffer).equals(big.subarray(1000, 2000)));
  });

  it('serves loaders from the TFTP root and follows links only inside the root', async () => {
    assert.equal(await (await fetch(`${base}/boot/ipxe.efi`)).text(), 'EFI');
    assert.equal(await (await fetch(`${base}/install/rhevh6.5/x86_64/inside-link`)).text(), small.toString());
  });

  it('refuses escapes with a plain 404', async () => {
    const attempts = [
      '/install/rhevh6.5/x86_64/escape',
      '/install/../state/rhevboot.db',
      '/install/%2e%2e/state/rhevboot.db',
      '/install/rhevh6.5/%2e%2e/%2e%2e/outside.txt',
      '/install/%252e%252e/outside.txt',
      '/install/rhevh6.5/.x86_64.partial-job/secret',
      '/install/rhevh6.5/%2ex86_64.partial-job/secret',
      '/install/rhevh6.5/x86_64/small.txt%00.png',
      '/install/rhevh6.5/x86_64/..%2f..%2f..%2foutside.txt',
      '/install/rhevh6.5\\..\\..\\outside.txt',
      '/install/rhevh6.5/x86_64',
      '/install/',
      '/boot/../install/rhevh6.5/x86_64/small.txt',
    ];
    for (const a of attempts) {
      const { stdout } = await exec('curl', ['-s', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', base + a]);
      assert.equal(stdout, '404', a);
    }
    // A broken %-escape is refused by the router before any path handling.
    const { stdout } = await exec('curl', ['-s', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `${base}/install/%E0%A4%A`]);
    assert.equal(stdout, '400');
  });
});
