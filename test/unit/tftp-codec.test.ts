import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAck, encodeData, encodeError, encodeOack, encodeRequest, parsePacket, type Packet } from '../../src/tftp/packet.js';
import { negotiate, oackOptions } from '../../src/tftp/options.js';
import { normalizeRequestName } from '../../src/confinement/served-files.js';
import { NetasciiSource } from '../../src/tftp/reader.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parsed(buf: Buffer): Packet {
  const r = parsePacket(buf);
  assert.equal(r.ok, true, r.ok ? '' : r.reason);
  return (r as { ok: true; packet: Packet }).packet;
}

/*
 * Request fixtures, byte for byte as the clients of pxe-lab G10 send them (RRQ opcode 00 01).
 */
// EDK2/OVMF: "tsize 0 blksize 1468 windowsize 4", first of its two requests.
const EDK2_RRQ = hex(
  '0001' + Buffer.from('ipxe.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0', 'latin1').toString('hex'),
);
// GRUB: absolute path, blksize 1024, tsize 0.
const GRUB_RRQ = Buffer.concat([hex('0001'), Buffer.from('/grub/x86_64-efi/normal.mod\0octet\0blksize\x001024\0tsize\x000\0', 'latin1')]);
// curl 7.88: always "tsize 0 blksize 512 timeout 6".
const CURL_RRQ = Buffer.concat([hex('0001'), Buffer.from('big.bin\0octet\0tsize\x000\0blksize\x00512\0timeout\x006\0', 'latin1')]);

describe('tftp packet codec', () => {
  it('parses the EDK2 request', () => {
    const p = parsed(EDK2_RRQ);
    assert.deepEqual(p, {
      op: 'RRQ',
      filename: 'ipxe.efi',
      mode: 'octet',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1468' },
        { name: 'windowsize', value: '4' },
      ],
      notes: [],
    });
  });

  it('parses GRUB and curl requests', () => {
    const g = parsed(GRUB_RRQ);
    assert.equal(g.op === 'RRQ' && g.filename, '/grub/x86_64-efi/normal.mod');
    const c = parsed(CURL_RRQ);
    assert.deepEqual(c.op === 'RRQ' && c.options.map((o) => o.name), ['tsize', 'blksize', 'timeout']);
  });

  it('lower-cases option names and mode; the first of a repeated option wins', () => {
    const p = parsed(Buffer.concat([hex('0001'), Buffer.from('f\0OCTET\0BlkSize\x001432\0blksize\x00512\0', 'latin1')]));
    assert.equal(p.op === 'RRQ' && p.mode, 'octet');
    assert.deepEqual(p.op === 'RRQ' && p.options, [{ name: 'blksize', value: '1432' }]);
    assert.equal(p.op === 'RRQ' && p.notes.length, 1);
  });

  it('drops only the damaged option: name without value, unterminated value, NUL padding', () => {
    const a = parsed(Buffer.concat([hex('0001'), Buffer.from('f\0octet\0blksize\x001468\0tsize', 'latin1')]));
    assert.deepEqual(a.op === 'RRQ' && a.options, [{ name: 'blksize', value: '1468' }]);
    const b = parsed(Buffer.concat([hex('0001'), Buffer.from('f\0octet\0tsize\x000\0blksize\x001468', 'latin1')]));
    assert.deepEqual(b.op === 'RRQ' && b.options, [{ name: 'tsize', value: '0' }]);
    const c = parsed(Buffer.concat([hex('0001'), Buffer.from('f\0octet\0\0\0\0\0', 'latin1')]));
    assert.deepEqual(c.op === 'RRQ' && c.options, []);
  });

  it('tolerates a mode without its final NUL', () => {
    const p = parsed(Buffer.concat([hex('0001'), Buffer.from('pxelinux.0\0octet', 'latin1')]));
    assert.equal(p.op === 'RRQ' && p.mode, 'octet');
  });

  it('never throws on garbage and says why', () => {
    const cases: [Buffer, RegExp][] = [
      [hex(''), /opcode/],
      [hex('00'), /opcode/],
      [hex('0009'), /unknown opcode 9/],
      [hex('0001'), /unterminated filename/],
      [Buffer.concat([hex('0001'), Buffer.from('abc', 'latin1')]), /unterminated filename/],
      [hex('000100'), /empty filename/],
      [Buffer.concat([hex('0001'), Buffer.from('f\0', 'latin1')]), /missing transfer mode/],
      [Buffer.concat([hex('0001ff'), Buffer.from('\0octet\0', 'latin1')]), /UTF-8/],
      [hex('000300'), /DATA/],
      [hex('000401'), /ACK/],
      [hex('0005'), /ERROR/],
    ];
    for (const [buf, re] of cases) {
      const r = parsePacket(buf);
      assert.equal(r.ok, false, buf.toString('hex'));
      assert.match((r as { reason: string }).reason, re);
    }
    for (let i = 0; i < 2000; i++) {
      const len = (i * 7919) % 64;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = (i * 31 + j * 17) & 0xff;
      parsePacket(b);
    }
  });

  it('parses DATA, ACK, ERROR and OACK', () => {
    assert.deepEqual(parsed(hex('0003 ffff 616263')), { op: 'DATA', block: 65535, data: Buffer.from('abc') });
    assert.deepEqual(parsed(hex('0004 0000')), { op: 'ACK', block: 0 });
    assert.deepEqual(parsed(hex('0005 0008') ), { op: 'ERROR', code: 8, message: '' });
    assert.deepEqual(parsed(Buffer.concat([hex('00050001'), Buffer.from('File not found\0')])), { op: 'ERROR', code: 1, message: 'File not found' });
    assert.deepEqual(parsed(Buffer.concat([hex('0006'), Buffer.from('tsize\x0012345\0')])), { op: 'OACK', options: [{ name: 'tsize', value: '12345' }], notes: [] });
  });

  it('encodes exact bytes', () => {
    assert.deepEqual(encodeAck(65536), hex('0004 0000'));
    assert.deepEqual(encodeAck(1), hex('0004 0001'));
    assert.deepEqual(encodeData(65537, Buffer.from('hi')), hex('0003 0001 6869'));
    assert.deepEqual(encodeError(1, 'file not found'), Buffer.concat([hex('0005 0001'), Buffer.from('file not found\0')]));
    assert.deepEqual(
      encodeOack([
        { name: 'blksize', value: '1468' },
        { name: 'tsize', value: '0' },
      ]),
      Buffer.concat([hex('0006'), Buffer.from('blksize\x001468\0tsize\x000\0')]),
    );
    assert.deepEqual(encodeRequest('RRQ', 'a', 'octet', [{ name: 'tsize', value: '0' }]), Buffer.concat([hex('0001'), Buffer.from('a\0octet\0tsize\x000\0')]));
    // Round trip.
    const p = parsed(encodeRequest('WRQ', 'x/y', 'netascii'));
    assert.equal(p.op, 'WRQ');
  });
});

describe('tftp option negotiation', () => {
  const limits = { maxBlockSize: 1468, maxWindowSize: 64 };
  const opts = (pairs: [string, string][]) => pairs.map(([name, value]) => ({ name, value }));

  it('EDK2: tsize answered with the real size, blksize and windowsize accepted', () => {
    const p = parsed(EDK2_RRQ);
    assert.ok(p.op === 'RRQ');
    const n = negotiate(p.options, limits);
    assert.equal(n.blockSize, 1468);
    assert.equal(n.windowSize, 4);
    assert.equal(n.tsize, true);
    assert.deepEqual(oackOptions(n, 1048576), opts([['tsize', '1048576'], ['blksize', '1468'], ['windowsize', '4']]));
  });

  it('an empty file gets no tsize in the OACK (curl rejects "tsize 0")', () => {
    const n = negotiate(opts([['tsize', '0'], ['blksize', '1468']]), limits);
    assert.deepEqual(oackOptions(n, 0), opts([['blksize', '1468']]));
    assert.deepEqual(oackOptions(negotiate(opts([['tsize', '0']]), limits), 0), []);
  });

  it('caps blksize and windowsize to the configured limits', () => {
    const n = negotiate(opts([['blksize', '65464'], ['windowsize', '1000']]), limits);
    assert.deepEqual([n.blockSize, n.windowSize], [1468, 64]);
    assert.deepEqual(oackOptions(n, 10), opts([['blksize', '1468'], ['windowsize', '64']]));
    assert.equal(negotiate(opts([['blksize', '99999']]), { maxBlockSize: 100000, maxWindowSize: 1 }).blockSize, 65464);
  });

  it('ignores bad options one by one and keeps the others', () => {
    const n = negotiate(
      opts([
        ['blksize', '7'],
        ['tsize', '123'],
        ['timeout', '1000'],
        ['windowsize', '0'],
        ['multicast', ''],
        ['rollover', '0'],
        ['timeout', 'abc'],
      ]),
      limits,
    );
    assert.deepEqual(n.accepted, []);
    assert.equal(n.ignored.length, 7);
    assert.deepEqual([n.blockSize, n.windowSize, n.tsize, n.timeoutMs], [512, 1, false, undefined]);
    assert.deepEqual(oackOptions(n, 5), [], 'no OACK when nothing was accepted');

    const m = negotiate(opts([['tsize', 'enable'], ['blksize', '1408'], ['timeout', '6'], ['blksize', 'x']]), limits);
    assert.deepEqual(m.accepted, opts([['blksize', '1408'], ['timeout', '6']]));
    assert.equal(m.timeoutMs, 6000);
  });

  it('timeout must be 1-255 s; blksize must be digits only', () => {
    assert.equal(negotiate(opts([['timeout', '255']]), limits).timeoutMs, 255000);
    assert.equal(negotiate(opts([['timeout', '256']]), limits).timeoutMs, undefined);
    assert.equal(negotiate(opts([['timeout', '0']]), limits).timeoutMs, undefined);
    assert.equal(negotiate(opts([['blksize', '1468abc']]), limits).blockSize, 512);
    assert.equal(negotiate(opts([['blksize', ' 1468']]), limits).blockSize, 512);
    assert.equal(negotiate(opts([['blksize', '8']]), limits).blockSize, 8);
  });

  it('no tsize in netascii mode', () => {
    const n = negotiate(opts([['tsize', '0'], ['blksize', '1024']]), limits, { netascii: true });
    assert.equal(n.tsize, false);
    assert.deepEqual(n.accepted, opts([['blksize', '1024']]));
  });
});

describe('tftp request names', () => {
  it('normalizes what real loaders send', () => {
    assert.deepEqual(normalizeRequestName('/grub/x86_64-efi/normal.mod'), { ok: true, name: 'grub/x86_64-efi/normal.mod' });
    assert.deepEqual(normalizeRequestName('pxelinux.cfg\\01-52-54-00-aa-bb-01'), { ok: true, name: 'pxelinux.cfg/01-52-54-00-aa-bb-01' });
    assert.deepEqual(normalizeRequestName('pxelinux.0'), { ok: true, name: 'pxelinux.0' });
  });

  it('refuses traversal, hidden parts, control bytes and overlong names', () => {
    for (const bad of ['../etc/passwd', 'a/../../b', '//etc/passwd', '\\\\etc\\passwd', '.hidden', 'a/.x86_64.partial-1/vmlinuz', 'a//b', 'a/', '.', 'a/./b', 'a\0b', 'a\nb', 'x'.repeat(256), 'a/'.repeat(300) + 'b', '']) {
      const r = normalizeRequestName(bad);
      assert.equal(r.ok, false, JSON.stringify(bad));
    }
  });
});

describe('netascii conversion', () => {
  it('LF becomes CR LF and a bare CR becomes CR NUL', () => {
    assert.deepEqual(NetasciiSource.convert(Buffer.from('a\nb\rc\r\n')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
  });
});
