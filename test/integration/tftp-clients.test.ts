/**
 * The TFTP server against the real clients (tftp-hpa, atftp, curl) across a veth pair between two
 * network namespaces created here: exact bytes for the edge sizes, rollover, a 300 MB file,
 * 10 % loss, 200 concurrent downloads, a rendered config.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { NetnsPair, requireTools, sha256File, startServerChild, type ServerChild } from '../helpers/tftp-netns.js';

const MB = 1024 * 1024;
const MAC = '52-54-00-aa-bb-01';
let net: NetnsPair;
let server: ServerChild;
let root: string;
let out: string;
const sums = new Map<string, string>();
const sizes = new Map<string, number>();

async function makeFile(name: string, size: number, how: 'random' | 'sparse'): Promise<void> {
  const file = path.join(root, name);
  const fh = await open(file, 'w');
  try {
    if (how === 'random') {
      for (let pos = 0; pos < size; pos += 4 * MB) await fh.write(randomBytes(Math.min(4 * MB, size - pos)), 0, Math.min(4 * MB, size - pos), pos);
    } else {
      // Sparse with random islands: cheap to create, still catches any misplaced block.
      await fh.truncate(size);
      for (const at of [0, 33 * MB + 7, 150 * MB - 3, size - MB]) await fh.write(randomBytes(MB), 0, MB, at);
    }
  } finally {
    await fh.close();
  }
  sizes.set(name, size);
  sums.set(name, await sha256File(file));
}

/** Fresh output path per download, so a stale file can never pass a checksum. */
let outN = 0;
const outFile = () => path.join(out, `o${++outN}`);

async function expectSame(name: string, got: string, label: string, res: { code: number | null; stderr: string; stdout: string }) {
  assert.equal(res.code, 0, `${label}: exit ${res.code}: ${res.stderr.slice(0, 300)}${res.stdout.slice(0, 300)}`);
  assert.equal(await sha256File(got), sums.get(name), `${label}: checksum differs`);
}

const hpa = (name: string, dst: string) => net.client('tftp', ['-m', 'binary', net.serverIp, '-c', 'get', name, dst], 120000);
const atftp = (name: string, dst: string, opts: string[]) =>
  net.client('atftp', ['--tftp-timeout', '1', ...opts.flatMap((o) => ['--option', o]), '-g', '-r', name, '-l', dst, net.serverIp], 120000);
const curl = (name: string, dst: string, args: string[]) => net.client('curl', ['-sS', ...args, '-o', dst, `tftp://${net.serverIp}/${name}`], 120000);

describe('tftp server with real clients in network namespaces', () => {
  before(async () => {
    requireTools();
    const base = await tempDir('rbt-tftp-ns-');
    root = path.join(base, 'root');
    out = path.join(base, 'out');
    await mkdir(path.join(root, 'pxelinux.cfg'), { recursive: true });
    await mkdir(out);
    await makeFile('empty', 0, 'random');
    await makeFile('one', 1, 'random');
    await makeFile('f511', 511, 'random');
    await makeFile('f512', 512, 'random');
    await makeFile('f513', 513, 'random');
    await makeFile('f256k', 256 * 1024 + 17, 'random');
    await makeFile('f33m', 33 * MB, 'random');
    await makeFile('f300m', 300 * MB, 'sparse');
    await writeFile(path.join(root, 'pxelinux.cfg', 'default'), 'DEFAULT local\n');
    net = new NetnsPair('t');
    net.setUp();
    server = await startServerChild(net.serverNs, {
      host: net.serverIp,
      port: 69,
      root,
      maxBlockSize: 1468,
      maxWindowSize: 64,
      maxTransfers: 400,
      timeoutMs: 1000,
      retries: 5,
      minRtoMs: 10,
      renderMac: MAC,
    });
  });

  after(async () => {
    try {
      await server?.close();
    } finally {
      net?.tearDown();
      if (out) await rm(out, { recursive: true, force: true });
    }
  });

  const small = ['empty', 'one', 'f511', 'f512', 'f513'];

  it('tftp-hpa (RFC 1350, 512-byte lockstep): edge sizes and 33 MB through the block-number rollover', async () => {
    for (const name of [...small, 'f33m']) {
      const dst = outFile();
      await expectSame(name, dst, `tftp-hpa ${name}`, await hpa(name, dst));
    }
  });

  it('atftp with blksize, tsize, timeout and windowsize: edge sizes, 33 MB at 512 (rollover), 300 MB at 1468 x 64', async () => {
    for (const name of small) {
      const dst = outFile();
      await expectSame(name, dst, `atftp ${name}`, await atftp(name, dst, ['blksize 512', 'tsize 0', 'timeout 2']));
    }
    let dst = outFile();
    await expectSame('f33m', dst, 'atftp f33m', await atftp('f33m', dst, ['blksize 512', 'tsize 0', 'timeout 2', 'windowsize 16']));
    dst = outFile();
    await expectSame('f300m', dst, 'atftp f300m', await atftp('f300m', dst, ['blksize 1468', 'tsize 0', 'windowsize 64']));
    await rm(dst);
  });

  it('curl with --tftp-blksize and --tftp-no-options: edge sizes, 33 MB lockstep at 512 (rollover) and at 1468', async () => {
    for (const name of small) {
      let dst = outFile();
      await expectSame(name, dst, `curl 1468 ${name}`, await curl(name, dst, ['--tftp-blksize', '1468']));
      dst = outFile();
      await expectSame(name, dst, `curl no-options ${name}`, await curl(name, dst, ['--tftp-no-options']));
    }
    let dst = outFile();
    await expectSame('f33m', dst, 'curl f33m', await curl('f33m', dst, ['--tftp-no-options']));
    // 300 MB in lockstep takes about 40 s here (curl has no windowsize); atftp covers 300 MB.
    dst = outFile();
    await expectSame('f33m', dst, 'curl f33m 1468', await curl('f33m', dst, ['--tftp-blksize', '1468']));
  });

  it('a rendered pxelinux config is served; another MAC gets "file not found" and falls through to default', async () => {
    const dst = outFile();
    const r = await hpa(`pxelinux.cfg/01-${MAC}`, dst);
    assert.equal(r.code, 0, r.stderr);
    const { readFile } = await import('node:fs/promises');
    assert.equal(await readFile(dst, 'utf8'), `DEFAULT rhevh\nLABEL rhevh\n  APPEND ip=${net.clientIp}\n`);
    const nf = await curl('pxelinux.cfg/01-52-54-00-00-00-09', outFile(), ['--tftp-blksize', '1408']);
    assert.notEqual(nf.code, 0);
    assert.ok(nf.ms < 2000, `not-found took ${nf.ms} ms`);
    const def = outFile();
    assert.equal((await hpa('pxelinux.cfg/default', def)).code, 0);
    const nfEvent = server.events.find((e) => e.file === 'pxelinux.cfg/01-52-54-00-00-00-09');
    assert.equal(nfEvent?.outcome, 'not-found');
  });

  it('10 % loss each way: every client gets the right bytes, and the server sends a small multiple of the packets needed', async (t) => {
    const s0 = await server.stats();
    net.setLoss(10);
    let needed = 0;
    let dropped = 0;
    try {
      const jobs: Promise<void>[] = [];
      const add = (label: string, blk: number, go: (dst: string) => Promise<{ code: number | null; stderr: string; stdout: string }>) => {
        needed += Math.floor(sizes.get('f256k')! / blk) + 1;
        const dst = outFile();
        jobs.push(go(dst).then((r) => expectSame('f256k', dst, label, r)));
      };
      add('tftp-hpa', 512, (d) => hpa('f256k', d));
      add('curl 1468', 1468, (d) => curl('f256k', d, ['--tftp-blksize', '1468']));
      add('curl no-options', 512, (d) => curl('f256k', d, ['--tftp-no-options']));
      // No atftp here: under loss it gives up on its own (with options, "unexpected OACK" when the
      // OACK is sent again after its ACK was lost, as RFC 2347 requires; without, "got wrong block"
      // then exit 255), seen in CI runs. Windows under loss are covered by the scripted clients of
      // tftp-loss.test.ts, and atftp by every loss-free test above.
      await Promise.all(jobs);
      assert.ok(net.dropped() > 0, 'the loss rules dropped nothing');
      dropped = net.dropped();
    } finally {
      net.clearLoss();
    }
    const s1 = await server.stats();
    const sent = s1.dataSent! - s0.dataSent!;
    t.diagnostic(`DATA sent ${sent} for ${needed} needed (${(sent / needed).toFixed(2)}x), ${dropped} packets dropped`);
    // 10 % loss each way costs about 1.2x in lockstep and somewhat more with a window of 8 (go
    // back N); a duplicate-ACK storm would be orders of magnitude above this.
    assert.ok(sent <= 3 * needed, `server sent ${sent} DATA packets for ${needed} needed`);
    assert.ok(sent > needed, 'no retransmissions at all under 10 % loss?');
  });

  it('200 concurrent downloads (curl, tftp-hpa, atftp) all complete with the right bytes', async () => {
    const jobs: Promise<void>[] = [];
    const names = ['f256k', 'f513', 'f512', 'one'];
    for (let i = 0; i < 200; i++) {
      const name = names[i % names.length]!;
      const dst = outFile();
      const kind = i % 5;
      const go =
        kind < 3
          ? curl(name, dst, ['--tftp-blksize', '1468'])
          : kind === 3
            ? hpa(name, dst)
            : atftp(name, dst, ['blksize 1468', 'tsize 0', 'timeout 2', 'windowsize 8']);
      jobs.push(go.then((r) => expectSame(name, dst, `#${i} ${name}`, r)));
    }
    const results = await Promise.allSettled(jobs);
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(failed.length, 0, failed.slice(0, 3).map((f) => String(f.reason)).join('\n'));
    const s = await server.stats();
    assert.equal(s.busy, 0);
  });
});
