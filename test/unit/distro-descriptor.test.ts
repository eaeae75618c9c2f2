import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { deriveName, explainMismatch, isExtracted, normaliseArch, recognise, validateDistroName, type IsoFacts } from '../../src/domain/distro.js';
import { isRhevbootError } from '../../src/errors.js';
import { loadDescriptors, parseDescriptor } from '../../src/media/descriptors.js';
import { tempDir } from '../helpers/tmp.js';

const [rhevh] = loadDescriptors();

function facts(over: Partial<IsoFacts & { topLevel: string[] }> = {}): IsoFacts & { topLevel: string[] } {
  return {
    volumeId: 'RHEV-Hypervisor-6.5-20140603.2',
    present: new Set(['isolinux/vmlinuz0', 'isolinux/initrd0.img', 'LiveOS/squashfs.img', 'isolinux/isolinux.cfg']),
    text: new Map([['isolinux/isolinux.cfg', 'label linux\n  append initrd=initrd0.img root=live:CDLABEL=RHEV-Hypervisor-6.5-20140603.2.el6ev ro\n']]),
    topLevel: ['isolinux/', 'LiveOS/'],
    ...over,
  };
}

describe('distro descriptors', () => {
  it('the built-in rhevh descriptor loads and describes the RHEV-H layout', () => {
    assert.equal(rhevh!.family, 'rhevh');
    assert.equal(rhevh!.install.isoName, 'rhevh.iso');
    assert.equal(rhevh!.install.kernel, 'isolinux/vmlinuz0');
    assert.match(rhevh!.boot.kernelArgs, /^rootflags=loop root=live:\/rhevh\.iso /);
  });

  it('recognises a RHEV-H layout and derives the name from the volume id', () => {
    const r = recognise([rhevh!], facts());
    assert.equal(r.ok, true);
    assert.deepEqual(deriveName(rhevh!, facts()), { name: 'rhevh6.5', version: '6.5' });
  });

  it('falls back to isolinux.cfg when the volume id says nothing', () => {
    assert.deepEqual(deriveName(rhevh!, facts({ volumeId: 'CDROM' })), { name: 'rhevh6.5', version: '6.5' });
    const cfgOnlyTitle = new Map([['isolinux/isolinux.cfg', 'menu title Red Hat Enterprise Virtualization Hypervisor 6.4-20130318.1.el6_4\nappend root=live:CDLABEL=XYZ']]);
    assert.deepEqual(deriveName(rhevh!, facts({ volumeId: 'CDROM', text: cfgOnlyTitle })), { name: 'rhevh6.4', version: '6.4' });
    assert.equal(deriveName(rhevh!, facts({ volumeId: 'CDROM', text: new Map([['isolinux/isolinux.cfg', 'root=live:CDLABEL=X']]) })), undefined);
  });

  it('refuses other ISOs and says what it looked for and what it found', () => {
    const debian = facts({
      volumeId: 'Debian 12.5.0 amd64 n',
      present: new Set(['isolinux/isolinux.cfg']),
      text: new Map([['isolinux/isolinux.cfg', 'include menu.cfg\ndefault vesamenu.c32\n']]),
      topLevel: ['boot/', 'dists/', 'install.amd/', 'isolinux/', 'pool/'],
    });
    const r = recognise([rhevh!], debian);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.mismatches[0]!.missing, ['isolinux/vmlinuz0', 'isolinux/initrd0.img', 'LiveOS/squashfs.img']);
    const text = explainMismatch('/isos/debian.iso', [rhevh!], debian, r.mismatches, debian.topLevel);
    assert.match(text, /\/isos\/debian\.iso is not a recognised hypervisor ISO \(volume id 'Debian 12\.5\.0 amd64 n'\)/);
    assert.match(text, /looked for isolinux\/vmlinuz0, isolinux\/initrd0\.img, LiveOS\/squashfs\.img, isolinux\/isolinux\.cfg, isolinux\/isolinux\.cfg matching \/root=live:\//);
    assert.match(text, /missing: isolinux\/vmlinuz0, isolinux\/initrd0\.img, LiveOS\/squashfs\.img/);
    assert.match(text, /isolinux\/isolinux\.cfg does not match \/root=live:\//);
    assert.match(text, /found at the top level: boot\/, dists\/, install\.amd\/, isolinux\/, pool\//);
  });

  it('a layout without root=live: in isolinux.cfg is not RHEV-H', () => {
    const r = recognise([rhevh!], facts({ text: new Map([['isolinux/isolinux.cfg', 'append root=/dev/sda1']]) }));
    assert.equal(r.ok, false);
  });

  it('validates names and arches the way admins type them', () => {
    assert.equal(validateDistroName('rhevh6.5'), undefined);
    for (const bad of ['../etc', 'a/b', '.hidden', '', 'x'.repeat(64), 'a..b', 'a b']) assert.ok(validateDistroName(bad), bad);
    assert.equal(normaliseArch('AMD64'), 'x86_64');
    assert.equal(normaliseArch('i686'), 'x86');
    assert.equal(normaliseArch('x86_64'), 'x86_64');
  });

  it('extracts exactly the listed directories', () => {
    assert.ok(isExtracted(rhevh!, 'isolinux'));
    assert.ok(isExtracted(rhevh!, 'isolinux/vmlinuz0'));
    assert.ok(!isExtracted(rhevh!, 'LiveOS/squashfs.img'));
    assert.ok(!isExtracted(rhevh!, 'isolinuxfoo'));
  });

  it('a bad descriptor is refused with its file, line and key', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'bad.yaml');
    const text = ['family: other', 'title: Other', 'arches: [x86_64]', 'defaultArch: x86_64', 'recognise:', '  files: [../escape]', 'install:', '  isoName: o.iso', '  extract: [a/]', '  kernel: a/k', '  initrd: a/i', '  pxeInitrd: p/i', 'boot:', '  recipe: rhevh', '  loaders:', '    ipxe: { template: ipxe-install.ipxe }'].join('\n');
    await writeFile(file, text);
    assert.throws(
      () => parseDescriptor(file, text),
      (err: unknown) => isRhevbootError(err, 'RB_ERR_CONFIG') && err.message.startsWith(`${file}:6: invalid distro descriptor at 'recognise.files.0'`),
    );
    const badRegex = text.replace('files: [../escape]', 'files: [a/k]') + "\nnaming:\n  - source: volumeId\n    pattern: '(unclosed'\n    name: x";
    assert.throws(() => parseDescriptor(file, badRegex), (err: unknown) => isRhevbootError(err) && /:19: .*naming\.0\.pattern/.test(err.message));
    const valid = text.replace('files: [../escape]', 'files: [a/k]');
    assert.equal(parseDescriptor(file, valid).family, 'other');
    assert.throws(() => parseDescriptor(file, valid.replace('family: other', 'family: other\nsurprise: 1')), (err: unknown) => isRhevbootError(err) && /surprise/.test(err.message));
  });

  it('says how its family installs: a known recipe, loaders with templates by plain name', () => {
    const text = ['family: other', 'title: Other', 'arches: [x86_64]', 'defaultArch: x86_64', 'recognise:', '  files: [a/k]', 'install:', '  isoName: o.iso', '  extract: [a/]', '  kernel: a/k', '  initrd: a/i', '  pxeInitrd: p/i', 'boot:', '  recipe: rhevh', '  loaders:', '    ipxe: { template: ipxe-install.ipxe }'].join('\n');
    const d = parseDescriptor('other.yaml', text);
    assert.deepEqual(d.boot.loaders, { ipxe: { template: 'ipxe-install.ipxe', bootif: 'in-cmdline' } });
    const refused = (variant: string, key: RegExp): void =>
      assert.throws(() => parseDescriptor('other.yaml', variant), (err: unknown) => isRhevbootError(err, 'RB_ERR_CONFIG') && key.test(err.message), variant);
    refused(text.replace('recipe: rhevh', 'recipe: kickstart-someday'), /at 'boot\.recipe'/);
    refused(text.replace('template: ipxe-install.ipxe', 'template: ../../etc/passwd'), /at 'boot\.loaders\.ipxe\.template'/);
    refused(text.replace('    ipxe: { template: ipxe-install.ipxe }', '    floppy: { template: f.cfg }'), /at 'boot\.loaders/);
    refused(text.replace('  loaders:\n    ipxe: { template: ipxe-install.ipxe }', '  loaders: {}'), /at least one loader/);
    refused(text.replace(/\nboot:[^]*$/, ''), /at 'boot'/);
  });
});
