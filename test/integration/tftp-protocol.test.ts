/**
 * Protocol behaviour and path safety of the TFTP server, driven over loopback by a scripted client
 * (raw requests carry what real clients cannot: NUL bytes, non-UTF-8, backslashes as sent).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import dgram from 'node:dgram';
import { encodeAck, encodeError, encodeRequest, parsePacket, type Packet } from '../../src/tftp/packet.js';
import { startTftpServer, type TftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { fakeGet, firstReply } from '../helpers/tftp-fake-client.js';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';
const MAC_CFG = 'pxelinux.cfg/01-52-54-00-aa-bb-01';
let server: TftpServer;
let base: string;
let root: string;
const logLines: string[] = [];
const events: TransferEvent[] = [];
const sub = randomBytes(3000);

function raw(filename: Buffer | string, mode = 'octet'): Buffer {
  const name = typeof filename === 'string' ? Buffer.from(filename, 'utf8') : filename;
  return Buffer.concat([Buffer.from([0, 1]), name, Buffer.from([0]), Buffer.from(mode), Buffer.from([0])]);
}

/** Until every transfer has ended on the server (the client is done before it is). */
function settle(): Promise<boolean> {
  return waitFor(() => server.stats().active === 0, { what: 'the transfers to end' });
}

describe('tftp server over loopback', () => {
  before(async () => {
    base = await tempDir('rbt-tftp-proto-');
    root = path.join(base, 'root');
    const install = path.join(base, 'install');
    await mkdir(path.join(root, 'sub'), { recursive: true });
    await mkdir(path.join(root, '.hidden'), { recursive: true });
    await mkdir(path.join(root, '.x86_64.partial-123'), { recursive: true });
    await mkdir(path.join(root, 'pxelinux.cfg'), { recursive: true });
    await mkdir(path.join(root, 'grub'), { recursive: true });
    await mkdir(path.join(base, 'outside'), { recursive: true });
    await mkdir(path.join(install, 'rhevh'), { recursive: true });
    await mkdir(path.join(install, '.x86_64.partial-1'), { recursive: true });
    await writeFile(path.join(base, 'outside', 'secret.txt'), SECRET);
    await writeFile(path.join(root, 'sub', 'file.txt'), sub);
    await writeFile(path.join(root, 'pxelinux.0'), randomBytes(700));
    await writeFile(path.join(root, 'grub', 'grub.cfg'), 'set timeout=1\n');
    await writeFile(path.join(root, 'pxelinux.cfg', 'default'), 'DEFAULT local\n');
    await writeFile(path.join(root, '.hidden', 'file'), SECRET);
    await writeFile(path.join(root, '.x86_64.partial-123', 'vmlinuz'), SECRET);
    await writeFile(path.join(root, 'text.txt'), 'line1\nline2\r\n');
    await writeFile(path.join(install, 'rhevh', 'vmlinuz'), 'KERNEL');
    await writeFile(path.join(install, '.x86_64.partial-1', 'vmlinuz'), SECRET);
    await writeFile(path.join(base, 'rollover.bin'), randomBytes(8 * 65536 + 123));
    await symlink(path.join(base, 'rollover.bin'), path.join(root, 'escape-abs'));
    await symlink(path.join(base, 'outside', 'secret.txt'), path.join(root, 'escape-link'));
    await symlink('../outside', path.join(root, 'escape-dir'));
    await symlink('/etc', path.join(root, 'etc-link'));
    await symlink('.hidden/file', path.join(root, 'link-to-hidden'));
    await symlink('sub/file.txt', path.join(root, 'inside-link'));
    await symlink('sub', path.join(root, 'inside-dir'));
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    await writeFile(path.join(root, 'roll.bin'), randomBytes(8 * 65536 + 123));

    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    server = await startTftpServer({
      host: '127.0.0.1',
      port: 0,
      root,
      mounts: [{ prefix: 'distros/', dir: install }],
      maxBlockSize: 1468,
      maxWindowSize: 64,
      maxTransfers: 3,
      timeoutMs: 300,
      retries: 2,
      log: pino({ level: 'debug' }, sink),
      render: async (name, client) => (name === MAC_CFG ? Buffer.from(`DEFAULT rhevh\n# for ${client.address}\n`) : undefined),
      onTransfer: (t) => events.push(t),
    });
  });
  after(async () => {
    await server?.close();
  });

  it('serves a file with OACK (blksize capped, tsize real) and reports the transfer', async () => {
    const r = await fakeGet({ port: server.port, file: 'sub/file.txt', options: [{ name: 'blksize', value: '8192' }, { name: 'tsize', value: '0' }, { name: 'bogus', value: '1' }] });
    assert.equal(r.ok, true);
    assert.ok(r.data.equals(sub));
    assert.deepEqual(r.oack, [
      { name: 'blksize', value: '1468' },
      { name: 'tsize', value: '3000' },
    ]);
    await settle();
    const e = events.find((x) => x.file === 'sub/file.txt');
    assert.ok(e);
    assert.deepEqual([e.outcome, e.bytes, e.blockSize, e.windowSize, e.client], ['ok', 3000, 1468, 1, '127.0.0.1']);
  });

  it('EDK2: tsize probe aborted with error 8, then the real download', async () => {
    const opts = [
      { name: 'tsize', value: '0' },
      { name: 'blksize', value: '1468' },
      { name: 'windowsize', value: '4' },
    ];
    const first = await fakeGet({ port: server.port, file: 'pxelinux.0', options: opts, abortAfterOack: true });
    assert.equal(first.ok, true);
    assert.deepEqual(first.oack?.find((o) => o.name === 'tsize'), { name: 'tsize', value: '700' });
    const second = await fakeGet({ port: server.port, file: 'pxelinux.0', options: opts });
    assert.equal(second.ok, true);
    assert.equal(second.data.length, 700);
    await settle();
    const outcomes = events.filter((x) => x.file === 'pxelinux.0').map((x) => x.outcome);
    assert.deepEqual(outcomes, ['aborted', 'ok']);
  });

  it('a client that re-asks before ACKing keeps its first transfer; an aborting EDK2 gets its repeat served', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const inbox: { msg: Buffer; port: number }[] = [];
    sock.on('message', (msg, rinfo) => inbox.push({ msg, port: rinfo.port }));
    const next = async (): Promise<{ packet: Packet; port: number }> => {
      await waitFor(() => inbox.length > 0, { what: 'an answer from the server' });
      const m = inbox.shift()!;
      const parsed = parsePacket(m.msg);
      assert.ok(parsed.ok);
      return { packet: parsed.packet, port: m.port };
    };
    const rrq = encodeRequest('RRQ', 'sub/file.txt', 'octet', [{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '0' }]);
    const before = events.length;
    try {
      // 1. pxelinux under a busy server: RRQ, RRQ again, then the ACK 0 for the OACK it got.
      sock.send(rrq, server.port, '127.0.0.1');
      const oack = await next();
      assert.equal(oack.packet.op, 'OACK');
      sock.send(rrq, server.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 100));
      sock.send(encodeAck(0), oack.port, '127.0.0.1');
      const got: Buffer[] = [];
      for (;;) {
        const d = await next();
        assert.equal(d.port, oack.port, 'every block comes from the first transfer');
        assert.equal(d.packet.op, 'DATA');
        const data = d.packet as Extract<Packet, { op: 'DATA' }>;
        got.push(Buffer.from(data.data));
        sock.send(encodeAck(data.block), d.port, '127.0.0.1');
        if (data.data.length < 1468) break;
      }
      assert.deepEqual(Buffer.concat(got), sub);
      // A late duplicate of the finished request starts nothing.
      sock.send(rrq, server.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(inbox.length, 0, 'no answer to a late duplicate');
      await settle();
      assert.deepEqual(events.slice(before).filter((e) => e.file === 'sub/file.txt').map((e) => e.outcome), ['ok']);

      // 2. EDK2: tsize probe, the new RRQ overtakes its error 8; the repeat is served after the abort.
      const edk = encodeRequest('RRQ', 'pxelinux.0', 'octet', [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }]);
      sock.send(edk, server.port, '127.0.0.1');
      const probe = await next();
      assert.equal(probe.packet.op, 'OACK');
      sock.send(edk, server.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 50));
      sock.send(encodeError(8, 'User aborted the transfer'), probe.port, '127.0.0.1');
      const again = await next();
      assert.equal(again.packet.op, 'OACK', 'the repeated request is answered once the probe ended');
      assert.notEqual(again.port, probe.port);
      sock.send(encodeError(8, 'done'), again.port, '127.0.0.1');
    } finally {
      sock.close();
    }
  });

  it('GRUB: a leading slash is relative to the root', async () => {
    const r = await fakeGet({ port: server.port, file: '/grub/grub.cfg', options: [{ name: 'blksize', value: '1024' }, { name: 'tsize', value: '0' }] });
    assert.equal(r.ok, true);
    assert.equal(r.data.toString(), 'set timeout=1\n');
  });

  it('block numbers roll over past 65535 (blksize 8, window 64)', async () => {
    const r = await fakeGet({ port: server.port, file: 'roll.bin', options: [{ name: 'blksize', value: '8' }, { name: 'windowsize', value: '64' }], deadlineMs: 30000 });
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.data.length, 8 * 65536 + 123);
  });

  it('netascii: LF becomes CR LF, CR becomes CR NUL', async () => {
    const r = await fakeGet({ port: server.port, file: 'text.txt', mode: 'netascii' });
    assert.equal(r.ok, true);
    assert.deepEqual(r.data, Buffer.from('line1\r\nline2\r\0\r\n', 'latin1'));
  });

  it('write requests are refused with an access violation', async () => {
    const r = await firstReply(server.port, encodeRequest('WRQ', 'upload.bin', 'octet'));
    assert.ok(r?.packet.ok);
    assert.deepEqual(r.packet.packet, { op: 'ERROR', code: 2, message: 'read-only server: write requests are refused' });
  });

  it('rendered config served; an unknown node gets "file not found" at once', async () => {
    const r = await fakeGet({ port: server.port, file: MAC_CFG });
    assert.equal(r.ok, true);
    assert.equal(r.data.toString(), 'DEFAULT rhevh\n# for 127.0.0.1\n');
    const nf = await firstReply(server.port, raw('pxelinux.cfg/01-52-54-00-ff-ff-ff'));
    assert.ok(nf?.packet.ok);
    assert.equal((nf.packet.packet as Packet & { op: 'ERROR' }).code, 1);
    assert.ok(nf.ms < 200, `took ${nf.ms} ms`);
    const hexip = await firstReply(server.port, raw('pxelinux.cfg/0A0000'));
    assert.equal(hexip?.packet.ok && (hexip.packet.packet as Packet & { op: 'ERROR' }).code, 1);
  });

  it('mounted trees are served under their prefix', async () => {
    const r = await fakeGet({ port: server.port, file: 'distros/rhevh/vmlinuz' });
    assert.equal(r.ok, true);
    assert.equal(r.data.toString(), 'KERNEL');
  });

  it('symlinks that stay inside the root are served', async () => {
    for (const name of ['inside-link', 'inside-dir/file.txt']) {
      const r = await fakeGet({ port: server.port, file: name });
      assert.equal(r.ok, true, name);
      assert.ok(r.data.equals(sub), name);
    }
  });

  it('refuses at least 50 traversal and escape attempts, each logged with the client address', async () => {
    // [request name, expected error code]: 2 = refused by the server, 4 = malformed request,
    // 1 = a literal name that simply does not exist (TFTP does no %-decoding, so an encoded
    // traversal is just an odd file name).
    const attempts: [Buffer | string, number][] = [
      ['../outside/secret.txt', 2],
      ['../../etc/passwd', 2],
      ['../../../../../../../../../../etc/passwd', 2],
      ['/../outside/secret.txt', 2],
      ['..\\outside\\secret.txt', 2],
      ['\\..\\outside\\secret.txt', 2],
      ['..\\..\\..\\etc\\shadow', 2],
      ['sub/../../outside/secret.txt', 2],
      ['sub/../sub/file.txt', 2],
      ['pxelinux.cfg/../../outside/secret.txt', 2],
      ['....//outside/secret.txt', 2],
      ['.../outside', 2],
      ['..', 2],
      ['.', 2],
      ['/..', 2],
      ['/.', 2],
      ['./pxelinux.0', 2],
      ['sub/./file.txt', 2],
      ['sub//file.txt', 2],
      ['sub/file.txt/..', 2],
      ['//etc/passwd', 2],
      ['///etc/passwd', 2],
      ['\\\\etc\\passwd', 2],
      ['C:\\Windows\\..\\..\\etc\\passwd', 2],
      ['escape-link', 2],
      ['escape-abs', 2],
      ['escape-dir/secret.txt', 2],
      ['etc-link/passwd', 2],
      ['etc-link/hostname', 2],
      ['inside-dir/../escape-link', 2],
      ['.hidden/file', 2],
      ['sub/.hidden', 2],
      ['.x86_64.partial-123/vmlinuz', 2],
      ['distros/.x86_64.partial-1/vmlinuz', 2],
      ['distros/../outside/secret.txt', 2],
      ['distros/rhevh/../../outside/secret.txt', 2],
      ['link-to-hidden', 2],
      ['fifo', 2],
      ['sub', 2],
      ['sub/', 2],
      ['distros/', 2],
      ['a'.repeat(600), 2],
      ['x/'.repeat(300) + 'y', 2],
      ['a'.repeat(300), 2],
      ['sub/file.txt\n', 2],
      ['sub\tfile', 2],
      ['\x7f', 2],
      ['\x1b[2Jpxelinux.0', 2],
      [Buffer.from('sub/\xff\xfe.txt', 'latin1'), 4],
      [Buffer.concat([Buffer.from('pxelinux.0'), Buffer.from([0]), Buffer.from('../../etc/passwd')]), 4],
      ['%2e%2e/outside/secret.txt', 1],
      ['..%2foutside%2fsecret.txt', 2],
      ['%2e%2e%2f%2e%2e%2fetc%2fpasswd', 1],
      ['..%5c..%5cetc%5cpasswd', 2],
      ['%252e%252e%252fetc%252fpasswd', 1],
      ['\u2025/outside/secret.txt', 1],
      ['\uff0e\uff0e/outside/secret.txt', 1],
      ['/etc/passwd', 1],
      ['\\etc\\passwd', 1],
      ['/proc/self/environ', 1],
    ];
    assert.ok(attempts.length >= 50);
    const before = logLines.length;
    for (const [name, code] of attempts) {
      const req = Buffer.isBuffer(name) ? raw(name) : raw(name);
      const r = await firstReply(server.port, req);
      const label = JSON.stringify(Buffer.isBuffer(name) ? name.toString('latin1') : name).slice(0, 80);
      assert.ok(r, `no answer for ${label}`);
      assert.ok(r.packet.ok, `unparseable answer for ${label}`);
      const p = r.packet.packet;
      assert.equal(p.op, 'ERROR', `${label} got ${p.op}`);
      assert.equal((p as Packet & { op: 'ERROR' }).code, code, `${label}: ${(p as Packet & { op: 'ERROR' }).message}`);
    }
    const refusals = logLines.slice(before).map((l) => JSON.parse(l) as { msg: string; client?: string; level: number });
    const refusedCount = attempts.filter(([n, c]) => c === 2 && !Buffer.isBuffer(n)).length;
    const logged = refusals.filter((l) => l.msg === 'tftp: request refused' && l.client === '127.0.0.1' && l.level === 40);
    assert.equal(logged.length, refusedCount);
    assert.ok(!logLines.some((l) => l.includes(SECRET)));
  });

  it('beyond maxTransfers a request gets an error; stalled transfers are reaped and every descriptor closed', async () => {
    const fds = (await readdir('/proc/self/fd')).length;
    // Three clients that take the OACK and then go silent hold all three slots.
    const stalled = await Promise.all(
      [0, 1, 2].map(async () => {
        const sock = (await import('node:dgram')).createSocket('udp4');
        await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
        const got = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
        sock.send(encodeRequest('RRQ', 'sub/file.txt', 'octet', [{ name: 'tsize', value: '0' }]), server.port, '127.0.0.1');
        await got;
        return sock;
      }),
    );
    const busy = await firstReply(server.port, raw('pxelinux.0'));
    assert.ok(busy?.packet.ok);
    assert.deepEqual(busy.packet.packet, { op: 'ERROR', code: 0, message: 'server busy, retry' });
    assert.equal(busy.port, server.port, 'busy answer comes from the listening port (no socket spent on it)');
    // timeoutMs 300 x (retries 2 + 1): reaped in about a second.
    const t0 = Date.now();
    await waitFor(() => server.stats().active === 0, { what: 'the stalled transfers to be reaped', timeoutMs: 3000 });
    assert.ok(Date.now() - t0 < 2500);
    for (const s of stalled) s.close();
    assert.ok(events.filter((e) => e.outcome === 'timeout').length >= 3);
    const after = (await readdir('/proc/self/fd')).length;
    assert.ok(after <= fds, `descriptors ${fds} -> ${after}`);
  });
});
