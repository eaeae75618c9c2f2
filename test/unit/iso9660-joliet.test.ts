import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUtf16be, jolietLevel, jolietName, jolietText, utf16beText } from '../../src/iso9660/joliet.js';
import type { IsoResult } from '../../src/iso9660/fail.js';
import { utf16be } from '../helpers/iso-synth.js';
import { value } from '../helpers/iso-results.js';

const where = { image: 'j.iso', record: 'directory record "/x"', lba: 9, offset: 0x30 };

const decode = (b: Buffer) => value(decodeUtf16be(b, where));
const name = (b: Buffer) => value(jolietName(b, where));

describe('Joliet', () => {
  it('detects levels from the escape sequences anywhere in the field', () => {
    const field = (s: string, at = 0) => {
      const b = Buffer.alloc(32);
      b.write(s, at, 'latin1');
      return b;
    };
    assert.equal(jolietLevel(field('%/@')), 1);
    assert.equal(jolietLevel(field('%/C')), 2);
    assert.equal(jolietLevel(field('%/E', 5)), 3);
    assert.equal(jolietLevel(field('%/F')), undefined);
    assert.equal(jolietLevel(Buffer.alloc(32)), undefined);
  });

  it('decodes UCS-2 / UTF-16BE including surrogate pairs', () => {
    assert.equal(decode(utf16be('isolinux.cfg')), 'isolinux.cfg');
    assert.equal(decode(utf16be('日本語 ünï')), '日本語 ünï');
    assert.equal(decode(Buffer.from([0xd8, 0x3d, 0xde, 0x00])), '😀');
  });

  it('turns lone surrogates into U+FFFD instead of unencodable names', () => {
    assert.equal(decode(Buffer.from([0x00, 0x61, 0xd8, 0x3d, 0x00, 0x62])), 'a\ufffdb');
    assert.equal(decode(Buffer.from([0xde, 0x00])), '\ufffd');
    assert.equal(decode(Buffer.from([0xd8, 0x3d])), '\ufffd');
  });

  it('reports odd byte lengths as a located RB_ERR_ISO_FORMAT problem', () => {
    for (const r of [decodeUtf16be(Buffer.from([0, 0x61, 0]), where), jolietName(Buffer.from([0, 0x61, 0]), where)]) {
      assert.ok(!r.ok);
      assert.equal(r.problem.code, 'RB_ERR_ISO_FORMAT');
      assert.equal(r.problem.message, 'j.iso: directory record "/x" at LBA 9 offset 0x30: Joliet identifier has an odd byte length (3)');
      assert.deepEqual(r.problem.details, { nameLength: 3 });
    }
    assert.equal(utf16beText(Buffer.from([0, 0x61, 0])), 'a', 'labels and padded fields ignore the odd byte');
  });

  it('strips ";1" (and a dot left before it) but keeps other semicolons and dots', () => {
    assert.equal(name(utf16be('file.txt;1')), 'file.txt');
    assert.equal(name(utf16be('README.;1')), 'README');
    assert.equal(name(utf16be('a;b')), 'a;b');
    assert.equal(name(utf16be('trailing.')), 'trailing.');
    assert.equal(name(utf16be('x;')), 'x;');
  });

  it('keeps dangerous names for the walker to refuse (it validates every namespace the same way)', () => {
    assert.equal(name(utf16be('..')), '..');
    assert.equal(name(utf16be('a/b')), 'a/b');
    assert.equal(name(Buffer.from([0, 0x61, 0, 0])), 'a\0');
  });

  it('decodes SVD text fields, trimming UCS-2 space padding', () => {
    const b = Buffer.alloc(32);
    for (let i = 0; i < 32; i += 2) b.writeUInt16BE(0x20, i);
    utf16be('Fedora-Live').copy(b);
    assert.equal(jolietText(b), 'Fedora-Live');
  });
});
