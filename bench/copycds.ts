/**
 * copycds and initrd-build benchmark, side by side with the standard tools in one run.
 *
 *   npm run bench -- copycds [--size-mb 700] [--runs 3] [--keep]
 *
 * Builds a ~700 MB RR+Joliet RHEV-H-shaped ISO (random squashfs, so nothing compresses), warms
 * the page cache with it, then times, each run with the same warm input:
 *   copycds      rhevboot's import (in process: inspect, copy+sha256, extract, PXE initrd, register)
 *   standard     bsdtar -x of the ISO + cp of the ISO + cat initrd0.img with cpio -H newc -o of the ISO
 *   cp           cp of the ISO alone: the physical limit of moving its bytes once
 *   initrd       buildPxeInitrd (with its sha256, as copycds uses it) vs
 *                `echo rhevh.iso | cpio -H newc -o | cat initrd0.img -`
 * and prints MB/s (of ISO bytes) and speed ratios (reference time / our time: above 1 is faster). Needs xorriso, libarchive-tools, cpio.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { createCliLogger } from '../src/log.js';
import { buildPxeInitrd } from '../src/media/initrd.js';
import { createServices } from '../src/services.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { makeRhevhIso } from '../test/helpers/rhevh-iso.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const sh = (cmd: string): void => {
  execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
};

async function timed(fn: () => Promise<void> | void): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchCopycds(): Promise<void> {
  const sizeMb = arg('size-mb', 700);
  const runs = arg('runs', 3);
  const work = await mkdtemp(path.join(os.tmpdir(), 'rhevboot-bench-'));
  try {
    const iso = path.join(work, 'rhevh.iso');
    process.stderr.write(`building a ${sizeMb} MB RR+Joliet RHEV-H ISO in ${work} ...\n`);
    await makeRhevhIso(work, iso, { squashBytes: (sizeMb - 2) * 1024 * 1024 });
    const isoBytes = (await stat(iso)).size;
    const mb = isoBytes / 1e6;
    sh(`cat '${iso}' > /dev/null`);
    // The standard tools need initrd0.img on disk, as copycds extracts it itself.
    const initrd0 = path.join(work, 'initrd0.img');
    sh(`bsdtar -xOf '${iso}' isolinux/initrd0.img > '${initrd0}'`);

    const results: Record<string, number[]> = { copycds: [], standard: [], cp: [], initrd: [], initrdStd: [] };
    for (let r = 0; r < runs; r++) {
      const out = path.join(work, `out-${r}`);
      await mkdir(out);
      const env = { RHEVBOOT_STATE_DIR: path.join(out, 'state'), RHEVBOOT_INSTALL_DIR: path.join(out, 'install') };
      const loaded = loadConfig({ env });
      const store = openSqliteStore({ dir: loaded.config.stateDir });
      const services = createServices(loaded.config, store, createCliLogger('silent'));
      results.copycds!.push(await timed(async () => void (await services.distros.importIso({ isoPath: iso }))));
      await store.close();
      await rm(out, { recursive: true, force: true });
      sh('sync');

      const std = path.join(work, `std-${r}`);
      await mkdir(std);
      results.standard!.push(
        await timed(() =>
          sh(
            `bsdtar -xf '${iso}' -C '${std}' && cp '${iso}' '${std}/rhevh.iso' && ` +
              `(cd '${std}' && echo rhevh.iso | cpio -H newc -o --quiet) | cat '${std}/isolinux/initrd0.img' - > '${std}/initrd-pxe.img'`,
          ),
        ),
      );
      await rm(std, { recursive: true, force: true });
      sh('sync');

      results.cp!.push(await timed(() => sh(`cp '${iso}' '${work}/cp.iso'`)));
      await rm(path.join(work, 'cp.iso'));
      sh('sync');

      const ours = path.join(work, 'ours-initrd.img');
      results.initrd!.push(await timed(async () => void (await buildPxeInitrd({ baseInitrd: initrd0, appendFile: iso, appendName: 'rhevh.iso', outFile: ours, fsync: false }))));
      await rm(ours);
      sh('sync');
      results.initrdStd!.push(await timed(() => sh(`cd '${work}' && echo rhevh.iso | cpio -H newc -o --quiet | cat '${initrd0}' - > '${work}/std-initrd.img'`)));
      await rm(path.join(work, 'std-initrd.img'));
      sh('sync');
    }

    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) as Record<string, number>;
    const row = (label: string, s: number, ref?: number): string =>
      `${label.padEnd(46)} ${s.toFixed(2).padStart(7)} s ${(mb / s).toFixed(0).padStart(7)} MB/s${ref ? `   speed ratio ${(ref / s).toFixed(2)}x` : ''}`;
    const lines = [
      `ISO ${mb.toFixed(0)} MB, warm page cache, median of ${runs} runs on ${os.cpus().length} cores (MB/s = ISO bytes / time)`,
      row('rhevboot copycds (in process)', m.copycds!),
      row('standard: bsdtar -x + cp + cat|cpio newc', m.standard!),
      row('rhevboot copycds vs standard', m.copycds!, m.standard!),
      row('cp of the ISO alone (physical limit)', m.cp!),
      row('rhevboot copycds vs cp alone', m.copycds!, m.cp!),
      row('initrd: buildPxeInitrd', m.initrd!),
      row('initrd: echo | cpio -H newc -o | cat initrd0 -', m.initrdStd!),
      row('initrd: buildPxeInitrd vs cpio|cat', m.initrd!, m.initrdStd!),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    if (!process.argv.includes('--keep')) await rm(work, { recursive: true, force: true });
  }
}
