import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeOptions, OPT, typed } from '../../src/dhcp/options.js';
import { formatPacket, macOf, parsePacket, type DhcpPacket } from '../../src/dhcp/packet.js';
import { fixture, fixtureNames } from '../helpers/dhcp-fixtures.js';

function parse(b: Buffer): DhcpPacket {
  const r = parsePacket(b);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.packet;
}

describe('dhcp codec: real and crafted client packets', () => {
  it('has every fixture the issue asks for', () => {
    const names = fixtureNames();
    for (const n of ['udhcpc-discover', 'dhclient-discover', 'ipxe-bios-discover', 'ipxe-efi-discover', 'ovmf-pxe-discover', 'ovmf-http-discover', 'pxelinux-ack']) {
      assert.ok(names.includes(n), `missing fixture ${n}`);
    }
  });

  it('udhcpc (captured): header, client id, vendor class, host name', () => {
    const p = parse(fixture('udhcpc-discover'));
    assert.equal(p.op, 1);
    assert.equal(p.htype, 1);
    assert.equal(p.hlen, 6);
    assert.equal(macOf(p), '52:54:00:ca:fe:01');
    assert.equal(p.ciaddr, '0.0.0.0');
    const t = typed(p.options);
    assert.equal(t.messageType, 1);
    assert.equal(t.hostname, 'bbclient');
    assert.equal(t.vendorClass, 'rbdtest');
    assert.equal(t.clientId, '01525400cafe01');
    assert.equal(t.maxMessageSize, 576);
    assert.deepEqual(t.paramRequestList, [1, 3, 6, 12, 15, 28, 42]);
  });

  it('dhclient (captured): DISCOVER with its parameter request list', () => {
    const p = parse(fixture('dhclient-discover'));
    assert.equal(macOf(p), '52:54:00:ca:fe:01');
    const t = typed(p.options);
    assert.equal(t.messageType, 1);
    assert.ok(t.paramRequestList?.includes(1) && t.paramRequestList.includes(3));
    assert.equal(t.vendorClass, undefined);
  });

  it('iPXE BIOS: arch 0, UNDI 2.1, user class "iPXE" as a bare string, option 175, uuid', () => {
    const p = parse(fixture('ipxe-bios-discover'));
    assert.equal(p.flags, 0x8000);
    const t = typed(p.options);
    assert.deepEqual(t.clientArch, [0]);
    assert.deepEqual(t.clientNdi, { type: 1, major: 2, minor: 1 });
    assert.deepEqual(t.userClass, ['iPXE']);
    assert.equal(t.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
    assert.ok(t.ipxe?.has(0x13), 'HTTP feature in option 175');
    assert.equal(t.clientUuid, '8a3bc1d2e4f5061728394a5b6c7d8e9f');
    assert.equal(t.clientId, '01525400123456');
    assert.equal(t.maxMessageSize, 1472);
  });

  it('OVMF PXE and HTTP Boot: arch 7 / 16, vendor classes', () => {
    const pxe = typed(parse(fixture('ovmf-pxe-discover')).options);
    assert.deepEqual(pxe.clientArch, [7]);
    assert.equal(pxe.vendorClass, 'PXEClient:Arch:00007:UNDI:003000');
    assert.equal(pxe.userClass, undefined);
    const http = typed(parse(fixture('ovmf-http-discover')).options);
    assert.deepEqual(http.clientArch, [16]);
    assert.equal(http.vendorClass, 'HTTPClient:Arch:00016:UNDI:003001');
    const req = typed(parse(fixture('ovmf-pxe-request')).options);
    assert.equal(req.serverId, '10.231.1.1');
    assert.equal(req.requestedIp, '10.231.1.50');
  });

  it('pxelinux ACK: file field, option 43 sub-option 6, unknown options 208-211 kept as bytes', () => {
    const p = parse(fixture('pxelinux-ack'));
    assert.equal(p.op, 2);
    assert.equal(p.file, 'pxelinux.0');
    const t = typed(p.options);
    assert.deepEqual(t.vendorSpecific?.get(6), Buffer.from([8]));
    assert.equal(p.options.get(208)?.toString('hex'), 'f100747e');
    assert.equal(p.options.get(209)?.toString(), 'pxelinux.cfg/01-52-54-00-12-34-5a');
    assert.equal(p.options.get(211)?.readUInt32BE(0), 30);
  });

  it('RFC 3396 split option and option 52 overload into file and sname', () => {
    const p = parse(fixture('long-overload-discover'));
    const v = p.options.get(OPT.VENDOR_SPECIFIC)!;
    assert.equal(v.length, 300);
    assert.deepEqual(v, Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(Array.from({ length: 44 }, (_, i) => i))]));
    assert.equal(typed(p.options).bootFile, 'ipxe.efi');
    assert.equal(typed(p.options).hostname, 'ovl-host');
    assert.equal(p.file, '');
    assert.equal(p.sname, '');
  });

  it('formats every non-overloaded fixture back byte for byte', () => {
    for (const name of fixtureNames()) {
      if (name.includes('overload')) continue;
      const raw = fixture(name);
      assert.deepEqual(formatPacket(parse(raw), { minBytes: raw.length }).toString('hex'), raw.toString('hex'), name);
    }
  });
});

describe('dhcp codec: formatting', () => {
  const base = (): DhcpPacket => ({
    op: 2, htype: 1, hlen: 6, hops: 0, xid: 0xdeadbeef, secs: 0, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '10.231.1.50', siaddr: '10.231.1.1', giaddr: '0.0.0.0',
    chaddr: Buffer.from('525400123456' + '00'.repeat(10), 'hex'), sname: '', file: 'pxelinux.0', options: new Map(),
  });

  it('pads to the 300-byte BOOTP minimum, exact header bytes', () => {
    const p = base();
    p.options.set(OPT.MESSAGE_TYPE, Buffer.from([2]));
    const b = formatPacket(p);
    assert.equal(b.length, 300);
    assert.equal(b.subarray(0, 28).toString('hex'), '020106' + '00' + 'deadbeef' + '0000' + '8000' + '00000000' + '0ae70132' + '0ae70101' + '00000000');
    assert.equal(b.subarray(108, 119).toString('latin1'), 'pxelinux.0\0');
    assert.equal(b.subarray(236, 244).toString('hex'), '63825363' + '350102ff');
    assert.ok(b.subarray(244).every((x) => x === 0));
  });

  it('splits an option longer than 255 bytes into consecutive instances (RFC 3396)', () => {
    const long = Buffer.alloc(600, 0xab);
    const enc = encodeOptions(new Map([[OPT.BOOTFILE, long]]));
    assert.equal(enc.length, 2 + 255 + 2 + 255 + 2 + 90 + 1);
    assert.deepEqual([enc[0], enc[1], enc[257], enc[258], enc[514], enc[515], enc[enc.length - 1]], [67, 255, 67, 255, 67, 90, 255]);
    const p = base();
    p.options.set(OPT.BOOTFILE, long);
    const back = parse(formatPacket(p));
    assert.deepEqual(back.options.get(OPT.BOOTFILE), long);
  });
});

describe('dhcp codec: malformed input is rejected with a reason, never thrown', () => {
  const good = fixture('udhcpc-discover');
  const reject = (b: Buffer, re: RegExp): void => {
    const r = parsePacket(b);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, re);
  };

  it('rejects short packets, bad cookies, bad op and hlen', () => {
    reject(Buffer.alloc(0), /too short/);
    reject(good.subarray(0, 239), /too short/);
    const c = Buffer.from(good);
    c[236] = 0;
    reject(c, /magic cookie/);
    const o = Buffer.from(good);
    o[0] = 7;
    reject(o, /bad op/);
    const h = Buffer.from(good);
    h[2] = 17;
    reject(h, /hlen/);
  });

  it('rejects option length lies, a missing length byte, bad overload values', () => {
    const lie = Buffer.concat([good.subarray(0, 240), Buffer.from([53, 1, 1, 60, 200, 0x41, 0x42])]);
    reject(lie, /option 60 .*claims 200/);
    reject(Buffer.concat([good.subarray(0, 240), Buffer.from([53, 1, 1, 12])]), /no length byte/);
    reject(Buffer.concat([good.subarray(0, 240), Buffer.from([52, 1, 9, 255])]), /overload/);
    reject(Buffer.concat([good.subarray(0, 240), Buffer.from([53, 2, 1, 1, 255])]), /message type/);
  });

  it('handles pad bytes between options (the npm dhcp codec skipped 2 bytes per pad)', () => {
    const b = Buffer.concat([good.subarray(0, 240), Buffer.from([53, 1, 1, 0, 0, 61, 7, 1, 0x52, 0x54, 0, 1, 2, 3, 255])]);
    const p = parse(b);
    assert.equal(typed(p.options).clientId, '01525400010203');
  });

  it('ignores option 52 found inside file/sname (no overload loop)', () => {
    const b = Buffer.from(good.subarray(0, 240));
    b.fill(0, 44, 236);
    Buffer.from([52, 1, 3, 12, 3, 0x61, 0x62, 0x63, 255]).copy(b, 108);
    const p = parse(Buffer.concat([b, Buffer.from([53, 1, 1, 52, 1, 1, 255])]));
    assert.equal(typed(p.options).hostname, 'abc');
    assert.deepEqual(p.options.get(52), Buffer.from([1]));
  });

  it('never throws on 20,000 random and mutated buffers', () => {
    const seeds = fixtureNames().map(fixture);
    let state = 12345;
    const rnd = (n: number): number => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    let ok = 0;
    for (let i = 0; i < 20_000; i++) {
      let b: Buffer;
      if (i % 4 === 0) b = Buffer.from(Array.from({ length: rnd(700) }, () => rnd(256)));
      else {
        b = Buffer.from(seeds[rnd(seeds.length)]!);
        for (let k = 0, n = 1 + rnd(8); k < n; k++) b[240 + rnd(Math.max(1, b.length - 240))] = rnd(256);
        if (rnd(3) === 0) b = b.subarray(0, rnd(b.length + 1));
      }
      const r = parsePacket(b);
      if (r.ok) {
        typed(r.packet.options);
        formatPacket(r.packet);
        ok++;
      } else assert.equal(typeof r.reason, 'string');
    }
    assert.ok(ok > 0);
  });
});
