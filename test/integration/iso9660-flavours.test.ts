/**
 * extractIso vs `bsdtar -xpf` on images built by xorriso and genisoimage in every flavour the
 * appliance meets: plain ISO9660, Rock Ridge (-R and rationalized -r), Joliet (-joliet-long), RR+Joliet,
 * El Torito. The fixture tree holds a 12-level deep tree, 200+ character and Unicode names, symlinks
 * of every kind, empty and odd-sized files and assorted modes. See diffTrees for how modes compare.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IsoImage, extractIso, type IsoEntry } from '../../src/iso9660/index.js';
import {
  DEEP_PARTS,
  LONG_NAME_1,
  LONG_NAME_2,
  UNICODE_NAMES,
  bsdtarExtract,
  buildIso,
  diffTrees,
  makeFixtureTree,
  run,
  snapshotTree,
  xorrisoElTorito,
  removeTree,
  type IsoTool,
} from '../helpers/iso-build.js';

interface Flavour {
  tool: IsoTool;
  label: string;
  args: string[];
  naming: 'rockridge' | 'joliet' | 'iso9660';
  elTorito?: boolean;
}

const BOOT = ['-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-eltorito-alt-boot', '-e', 'images/efiboot.img', '-no-emul-boot'];

const FLAVOURS: Flavour[] = [
  // xorriso always writes Rock Ridge unless told --norock.
  { tool: 'xorriso', label: 'plain ISO9660', args: ['--norock'], naming: 'iso9660' },
  { tool: 'xorriso', label: 'Rock Ridge', args: ['-R'], naming: 'rockridge' },
  { tool: 'xorriso', label: 'rationalized Rock Ridge (-r)', args: ['-r'], naming: 'rockridge' },
  { tool: 'xorriso', label: 'Joliet only', args: ['--norock', '-J', '-joliet-long'], naming: 'joliet' },
  { tool: 'xorriso', label: 'RR + Joliet', args: ['-R', '-J', '-joliet-long'], naming: 'rockridge' },
  { tool: 'xorriso', label: 'El Torito BIOS + EFI', args: ['-R', '-J', '-joliet-long', ...BOOT], naming: 'rockridge', elTorito: true },
  { tool: 'genisoimage', label: 'plain ISO9660', args: [], naming: 'iso9660' },
  { tool: 'genisoimage', label: 'Rock Ridge (relocates the deep tree into rr_moved)', args: ['-R'], naming: 'rockridge' },
  { tool: 'genisoimage', label: 'rationalized Rock Ridge (-r)', args: ['-r'], naming: 'rockridge' },
  { tool: 'genisoimage', label: 'Joliet only', args: ['-J', '-joliet-long'], naming: 'joliet' },
  { tool: 'genisoimage', label: 'RR + Joliet', args: ['-R', '-J', '-joliet-long'], naming: 'rockridge' },
  { tool: 'genisoimage', label: 'El Torito BIOS + EFI', args: ['-R', '-J', '-joliet-long', ...BOOT], naming: 'rockridge', elTorito: true },
];

async function walkAll(img: IsoImage): Promise<IsoEntry[]> {
  const out: IsoEntry[] = [];
  for await (const e of img.walk()) out.push(e);
  return out;
}

describe('ISO9660 flavours: extractIso matches bsdtar', () => {
  let tmp = '';
  let src = '';

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-iso-flavours-'));
    src = path.join(tmp, 'src');
    await makeFixtureTree(src);
  });
  after(async () => {
    if (tmp) await removeTree(tmp);
  });

  FLAVOURS.forEach((f, i) => {
    it(`${f.tool} ${f.label}`, async () => {
      const iso = path.join(tmp, `f${i}.iso`);
      const ours = path.join(tmp, `f${i}-ours`);
      const theirs = path.join(tmp, `f${i}-bsdtar`);
      await buildIso(f.tool, f.args, src, iso);
      const img = await IsoImage.open(iso);
      try {
        assert.equal(img.naming, f.naming);
        assert.equal(img.volumeId, 'RHEVBOOT_TEST');
        const entries = await walkAll(img);
        const paths = entries.map((e) => e.path);
        assert.equal(new Set(paths).size, paths.length, 'walk yields each path once');
        // Parents before children.
        const seen = new Set<string>();
        for (const p of paths) {
          const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
          assert.ok(parent === '' || seen.has(parent), `${p} yielded before its parent`);
          seen.add(p);
        }

        const result = await extractIso(img, ours);
        await bsdtarExtract(iso, theirs);
        const mine = await snapshotTree(ours);
        const diffs = diffTrees(mine, await snapshotTree(theirs), { mtimes: true, jolietQuirk: f.naming === 'joliet' });
        assert.deepEqual(diffs, [], `differences from bsdtar:\n${diffs.join('\n')}`);
        for (const [p, item] of mine) assert.equal(item.mode & ~0o777, 0, `${p} kept special mode bits ${item.mode.toString(8)}`);
        assert.equal(result.files + result.dirs + result.symlinks, mine.size);

        const byPath = new Map(entries.map((e) => [e.path, e]));
        if (f.naming === 'rockridge') {
          for (const n of [LONG_NAME_1, LONG_NAME_2]) assert.ok(byPath.has(n), `long RR name ${n.length} chars missing`);
          for (const n of UNICODE_NAMES) assert.ok(byPath.has(`unicode/${n}`), `Unicode name ${n} missing`);
          assert.ok(byPath.has(`deep/${DEEP_PARTS.join('/')}/leaf.txt`), 'deep leaf missing');
          assert.ok(![...byPath.keys()].some((p) => /^\.?rr_moved/i.test(p)), 'rr_moved must be hidden');
          assert.equal(byPath.get('link-relative')?.symlinkTarget, 'isolinux/isolinux.cfg');
          assert.equal(byPath.get('link-absolute')?.symlinkTarget, '/etc/hostname');
          assert.equal(byPath.get('link-dangling')?.symlinkTarget, 'does/not/exist');
          assert.equal(byPath.get('link-to-dir')?.type, 'symlink');
          assert.equal(byPath.get('odd/link-up')?.symlinkTarget, '../README');
          if (!f.args.includes('-r')) {
            assert.equal(byPath.get('modes/setuid')?.mode, 0o4755, 'IsoEntry.mode reports setuid as stored');
            assert.equal(byPath.get('modes/privdir')?.mode, 0o700);
          }
          const cfg = await img.lookup('isolinux/isolinux.cfg');
          assert.ok(cfg);
          assert.deepEqual(await img.readFile(cfg), await readFile(path.join(src, 'isolinux/isolinux.cfg')));
        } else if (f.naming === 'joliet') {
          assert.ok(byPath.has('unicode/ünï €.txt'));
          assert.ok(byPath.has('unicode/日本語ファイル.cfg'));
          assert.ok(entries.every((e) => e.type !== 'symlink'));
          assert.ok(entries.every((e) => e.mode === (e.type === 'dir' ? 0o700 : 0o400)));
          assert.ok(await img.lookup('isolinux/isolinux.cfg'));
        } else {
          assert.ok(await img.lookup('ISOLINUX/ISOLINUX.CFG'));
          assert.equal(await img.lookup('isolinux/isolinux.cfg'), undefined, 'lookup is case-sensitive');
        }
        if (f.tool === 'genisoimage' && f.naming === 'rockridge') {
          // Prove the CL/RE path was exercised: the plain namespace has RR_MOVED.
          const listing = await run('isoinfo', ['-l', '-i', iso]);
          assert.match(listing, /RR_MOVED/);
        }

        const boot = await img.bootCatalog();
        if (f.elTorito) {
          const report = await xorrisoElTorito(iso);
          assert.equal(report.length, 2);
          const platforms: Record<string, string> = { BIOS: 'bios', UEFI: 'uefi' };
          assert.deepEqual(
            boot,
            report.map((r) => ({
              platform: platforms[r.platform] ?? r.platform,
              bootable: r.bootable,
              mediaType: r.emul === 'none' ? 'no-emulation' : r.emul,
              loadSegment: r.loadSegment,
              sectorCount: r.sectorCount,
              lba: r.lba,
            })),
          );
          assert.equal(boot[0]!.platform, 'bios');
          assert.equal(boot[1]!.platform, 'uefi');
          const bin = await img.lookup('isolinux/isolinux.bin');
          assert.equal(bin?.extents[0]?.lba, boot[0]!.lba, 'BIOS entry points at isolinux.bin');
        } else {
          assert.deepEqual(boot, []);
        }
      } finally {
        await img.close();
        await rm(iso, { force: true });
        await removeTree(ours);
        await removeTree(theirs);
      }
    });
  });
});
