import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRhevbootError } from '../../src/errors.js';
import { decodeUtf16be, jolietLevel, jolietName, jolietText } from '../../src/iso9660/joliet.js';
import { utf16be } from '../helpers/iso-synth.js';

const where = { image: 'j.iso', record: 'directory record "/x"', lba: 9, offset: 0x30 };

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
    assert.equal(decodeUtf16be(utf16be('isolinux.cfg'), where), 'isolinux.cfg');
    assert.equal(decodeUtf16be(utf16be('日本語 ünï'), where), '日本語 ünï');
    assert.equal(decodeUtf16be(Buffer.from([0xd8, 0x3d, 0xde, 0x00]), where), '😀');
  });

  it('turns lone surrogates into U+FFFD instead of unencodable names', () => {
    assert.equal(decodeUtf16be(Buffer.from([0x00, 0x61, 0xd8, 0x3d, 0x00, 0x62]), where), 'a\ufffdb');
    assert.equal(decodeUtf16be(Buffer.from([0xde, 0x00]), where), '\ufffd');
    assert.equal(decodeUtf16be(Buffer.from([0xd8, 0x3d]), where), '\ufffd');
  });

  it('rejects odd byte lengths with a located RB_ERR_ISO_FORMAT', () => {
    assert.throws(
      () => decodeUtf16be(Buffer.from([0, 0x61, 0]), where),
      (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_FORMAT') && e.message === 'j.iso: directory record "/x" at LBA 9 offset 0x30: Joliet identifier has an odd byte length (3)',
    );
  });

  it('strips ";1" (and a dot left before it) but keeps other semicolons and dots', () => {
    assert.equal(jolietName(utf16be('file.txt;1'), where), 'file.txt');
    assert.equal(jolietName(utf16be('README.;1'), where), 'README');
    assert.equal(jolietName(utf16be('a;b'), where), 'a;b');
    assert.equal(jolietName(utf16be('trailing.'), where), 'trailing.');
    assert.equal(jolietName(utf16be('x;'), where), 'x;');
  });

  it('keeps dangerous names for the walker to refuse (it validates every namespace the same way)', () => {
    assert.equal(jolietName(utf16be('..'), where), '..');
    assert.equal(jolietName(utf16be('a/b'), where), 'a/b');
    assert.equal(jolietName(Buffer.from([0, 0x61, 0, 0]), where), 'a\0');
  });

  it('decodes SVD text fields, trimming UCS-2 space padding', () => {
    const b = Buffer.alloc(32);
    for (let i = 0; i < 32; i += 2) b.writeUInt16BE(0x20, i);
    utf16be('Fedora-Live').copy(b);
    assert.equal(jolietText(b), 'Fedora-Live');
  });
});
