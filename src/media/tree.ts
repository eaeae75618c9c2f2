import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * The on-disk side of a distro tree's life: built in a hidden staging directory next to its final
 * place, swapped in by rename (atomic on one filesystem), and recognised again after a crash.
 *
 *   <installDir>/<name>/<arch>/                 the live tree
 *   <installDir>/<name>/.<arch>.partial-<job>   a tree being built by job <job>
 *   <installDir>/<name>/.<arch>.old-<job>       the previous tree while <job> swaps in its replacement
 */
export interface TreePaths {
  final: string;
  staging: string;
  old: string;
}

export function treePaths(installDir: string, name: string, arch: string, jobId: string): TreePaths {
  const parent = path.join(installDir, name);
  return {
    final: path.join(parent, arch),
    staging: path.join(parent, `.${arch}.partial-${jobId}`),
    old: path.join(parent, `.${arch}.old-${jobId}`),
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Moves a finished staging tree into place, keeping the previous tree until the swap is done. */
export async function swapIn(paths: TreePaths): Promise<{ replaced: boolean }> {
  await mkdir(path.dirname(paths.final), { recursive: true, mode: 0o755 });
  const replaced = await exists(paths.final);
  if (replaced) await rename(paths.final, paths.old);
  await rename(paths.staging, paths.final);
  if (replaced) await rm(paths.old, { recursive: true, force: true });
  return { replaced };
}

/**
 * Cleans what interrupted imports of name/arch left behind: staging trees are removed, and a
 * previous tree that was moved aside but never replaced is put back.
 * Returns a description of each action, for the event log.
 */
export async function recoverTree(installDir: string, name: string, arch: string, isLive: (jobId: string) => boolean): Promise<string[]> {
  const parent = path.join(installDir, name);
  const final = path.join(parent, arch);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return [];
  }
  const actions: string[] = [];
  for (const entry of entries) {
    const m = entry.match(/^\.(.+)\.(partial|old)-(.+)$/);
    if (!m || m[1] !== arch || isLive(m[3]!)) continue;
    const full = path.join(parent, entry);
    if (m[2] === 'old' && !(await exists(final))) {
      await rename(full, final);
      actions.push(`restored ${final} from ${entry}`);
    } else {
      await rm(full, { recursive: true, force: true });
      actions.push(`removed ${full}`);
    }
  }
  return actions;
}

/** Counts files (regular files and symlinks) and their bytes in a tree, without following links. */
export async function treeStats(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        files++;
        bytes += (await lstat(full)).size;
      }
    }
  };
  await walk(root);
  return { files, bytes };
}
