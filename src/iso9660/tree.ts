/**
 * Directory tree walker: turns directory extents into IsoEntry values for one namespace (the PVD tree
 * with or without Rock Ridge, or the Joliet tree). The path table is never used: it is redundant,
 * limited to 65535 directories, and a second place for a hostile image to disagree with itself.
 *
 * Defences against hostile images live here: every extent is bounds-checked against the volume, a
 * directory extent reached twice (via records or CL) is a loop, depth and entry counts are capped,
 * names that could escape an extraction are refused, and duplicate names in one directory are refused
 * (that is how "symlink x, then x/evil" would be smuggled in).
 *
 * The walker reads through TreeIo but decides like a parser: a hostile image comes back as an
 * IsoResult problem (the first one ends a listing, a lookup or a walk), and only a failed read
 * throws. IsoImage, the service boundary, turns problems into errors.
 */
import { fail, ok, checkEntryName, recordLabel, type IsoResult, type Where } from './fail.js';
import {
  parseDirectoryExtent,
  parseDirectoryRecord,
  plainName,
  SECTOR_SIZE,
  FLAG_ASSOCIATED,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  type DirRecord,
} from './record.js';
import { jolietName, utf16beText } from './joliet.js';
import { collectSuspEntries, type ContinuationReader } from './susp.js';
import { parseRockRidge, type RockRidgeInfo } from './rockridge.js';
import { S_IFMT, S_IFLNK, S_IFDIR, S_IFREG } from '../util/file-mode.js';
import { MAX_DIRECTORY_BYTES, type IsoEntry, type IsoExtent, type Naming } from './types.js';

export interface TreeIo {
  image: string;
  volumeBlocks: number;
  /** Positional read of exactly `length` bytes; raises RB_ERR_ISO_* on short reads. */
  read(position: number, length: number, where: Where): Promise<Buffer>;
}

export interface TreeConfig {
  naming: Naming;
  root: DirRecord;
  /** SUSP LEN_SKP from the root SP entry; only meaningful when naming is 'rockridge'. */
  suspSkip: number;
  maxDepth: number;
  maxEntries: number;
}

export interface DirNode {
  path: string;
  lba: number;
  length: number;
  depth: number;
}

export interface Child {
  entry: IsoEntry;
  /** For directories: where their records live (the CL target for relocated ones). */
  dir?: DirNode;
  /** Rock Ridge RE: the relocated original, only reachable through its CL placeholder. */
  relocated: boolean;
  /** Where the child's directory record is, for error messages. */
  at?: { lba: number; offset: number };
}

// libarchive's defaults for records without Rock Ridge (measured with bsdtar 3.6.2: `bsdtar -tvf`
// shows dr-x------ style 0700 directories and 0400 files for genisoimage/xorriso --norock images).
const PLAIN_DIR_MODE = 0o700;
const PLAIN_FILE_MODE = 0o400;

const CE_CACHE_BLOCKS = 32;

function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

/** The extent [lba, lba+length) if it lies inside a volume of `volumeBlocks` blocks. */
export function checkExtent(volumeBlocks: number, lba: number, length: number, where: Where, what: string): IsoResult<IsoExtent> {
  const blocks = Math.ceil(length / SECTOR_SIZE);
  if (lba + blocks > volumeBlocks || (length > 0 && lba >= volumeBlocks)) {
    return fail('RB_ERR_ISO_HOSTILE', where, `${what} extent ${lba} (+${length} bytes) past end of volume (volume has ${volumeBlocks} blocks)`, {
      extentLba: lba,
      extentLength: length,
      volumeBlocks,
    });
  }
  return ok({ lba, length });
}

/** As checkExtent, for a directory: it must hold "." and "..", and not be absurdly large. */
export function checkDirExtent(volumeBlocks: number, lba: number, length: number, where: Where, what = 'directory'): IsoResult<IsoExtent> {
  if (length > MAX_DIRECTORY_BYTES) {
    return fail('RB_ERR_ISO_HOSTILE', where, `absurd directory size ${length} bytes (limit ${MAX_DIRECTORY_BYTES})`, { dirLength: length });
  }
  if (length < 68) {
    return fail('RB_ERR_ISO_FORMAT', where, `directory size ${length} bytes cannot hold its "." and ".." records`, { dirLength: length });
  }
  return checkExtent(volumeBlocks, lba, length, where, what);
}

/**
 * A child's name in the tree's namespace (`info` is its Rock Ridge, for a 'rockridge' tree), refused
 * when it could escape or confuse an extraction.
 */
export function childName(naming: Naming, rec: DirRecord, info: RockRidgeInfo | undefined, where: Where): IsoResult<string> {
  if (naming === 'rockridge' && info) {
    if (info.nameSpecial) {
      return fail('RB_ERR_ISO_HOSTILE', where, `Rock Ridge NM entry names a child record "${info.nameSpecial === 'current' ? '.' : '..'}"`);
    }
    if (info.name !== undefined) return checkEntryName(info.name, where, 'Rock Ridge NM');
  }
  if (naming === 'joliet') {
    const name = jolietName(rec.identifier, where);
    return name.ok ? checkEntryName(name.value, where, 'Joliet') : name;
  }
  return checkEntryName(plainName(rec.identifier), where, 'ISO9660');
}

/** The "." record a Rock Ridge CL target must start with: it carries the directory's own extent. */
function clTargetSelf(sector: Buffer, lba: number, where: Where): IsoResult<DirRecord> {
  const self = sector[0] === 0 ? undefined : parseDirectoryRecord(sector, 0, SECTOR_SIZE, { ...where, record: `${where.record} CL target`, lba });
  if (self && !self.ok) return self;
  if (!self || self.value.special !== 'self' || (self.value.flags & FLAG_DIRECTORY) === 0) {
    return fail('RB_ERR_ISO_FORMAT', where, `Rock Ridge CL points at LBA ${lba}, which does not start with a directory's "." record`, { childLink: lba });
  }
  if (self.value.lba !== lba) {
    return fail('RB_ERR_ISO_FORMAT', where, `Rock Ridge CL target at LBA ${lba} has a "." record pointing at LBA ${self.value.lba}`, { childLink: lba });
  }
  return self;
}

export class DirectoryTree {
  private readonly ceCache = new Map<number, Buffer>();

  constructor(
    private readonly io: TreeIo,
    private readonly config: TreeConfig,
  ) {}

  rootNode(): DirNode {
    const r = this.config.root;
    return { path: '', lba: r.lba + r.extAttrLength, length: r.dataLength, depth: 0 };
  }

  private where(dir: DirNode, offset: number, label: string): Where {
    return { image: this.io.image, record: label, lba: dir.lba + Math.floor(offset / SECTOR_SIZE), offset: offset % SECTOR_SIZE };
  }

  /** Where a listed child's record is, under its decoded path. */
  private childWhere(child: Child): Where {
    return { image: this.io.image, record: recordLabel('directory record', child.entry.path), ...child.at };
  }

  private async readDirExtent(dir: DirNode, where: Where): Promise<IsoResult<Buffer>> {
    const extent = checkDirExtent(this.io.volumeBlocks, dir.lba, dir.length, where);
    if (!extent.ok) return extent;
    // One positional read per directory: thousands of entries cost one syscall each directory.
    return ok(await this.io.read(dir.lba * SECTOR_SIZE, dir.length, where));
  }

  private readContinuation: ContinuationReader = async (ref, where) => {
    const extent = checkExtent(this.io.volumeBlocks, ref.lba, ref.offset + ref.length, where, 'CE continuation area');
    if (!extent.ok) return extent;
    let block = this.ceCache.get(ref.lba);
    if (!block) {
      block = await this.io.read(ref.lba * SECTOR_SIZE, SECTOR_SIZE, { ...where, record: `${where.record} continuation area`, lba: ref.lba });
      if (this.ceCache.size >= CE_CACHE_BLOCKS) this.ceCache.delete(this.ceCache.keys().next().value!);
      this.ceCache.set(ref.lba, block);
    }
    return ok(block.subarray(ref.offset, ref.offset + ref.length));
  };

  /** Best-effort name for messages about a record whose name has not been decoded (or failed to). */
  private rawLabel(identifier: Buffer): string {
    if (this.config.naming === 'joliet' && identifier.length % 2 === 0) return utf16beText(identifier);
    return plainName(identifier) || identifier.toString('latin1');
  }

  private async rockRidge(rec: DirRecord, where: Where, skip: number): Promise<IsoResult<RockRidgeInfo>> {
    const area = rec.systemUse.subarray(Math.min(skip, rec.systemUse.length));
    const entries = await collectSuspEntries(area, where, this.readContinuation);
    return entries.ok ? parseRockRidge(entries.value, where) : entries;
  }

  /** Reads a directory's children in record order, with multi-extent records merged. */
  async listDir(dir: DirNode): Promise<IsoResult<Child[]>> {
    const dirWhere = this.where(dir, 0, recordLabel('directory', dir.path));
    const buf = await this.readDirExtent(dir, dirWhere);
    if (!buf.ok) return buf;
    const records = parseDirectoryExtent(buf.value, dirWhere);
    if (!records.ok) return records;
    const children: Child[] = [];
    const names = new Map<string, number>();
    let pending: { child: Child; rec: DirRecord } | undefined;

    for (const rec of records.value) {
      if (rec.special) continue;
      const where = this.where(dir, rec.offset, recordLabel('directory record', joinPath(dir.path, this.rawLabel(rec.identifier))));

      // Multi-extent continuation: same identifier as the previous record, which had flag 0x80.
      if (pending) {
        if (!rec.identifier.equals(pending.rec.identifier)) {
          return fail('RB_ERR_ISO_FORMAT', where, `multi-extent file "${pending.child.entry.path}" is not continued by the next record`);
        }
        const added = this.addExtent(pending.child.entry, rec, where);
        if (!added.ok) return added;
        pending = (rec.flags & FLAG_MULTI_EXTENT) !== 0 ? { child: pending.child, rec } : undefined;
        continue;
      }
      // Associated files are Apple resource forks and the like; they share the name of the main file.
      if (rec.flags & FLAG_ASSOCIATED) continue;

      const made = await this.recordChild(rec, dir, where);
      if (!made.ok) return made;
      const child = made.value;
      if (child === undefined) continue;
      if (!child.relocated) {
        const prev = names.get(child.entry.name);
        if (prev !== undefined) {
          return fail('RB_ERR_ISO_HOSTILE', this.childWhere(child), `duplicate name "${child.entry.name}" in directory "/${dir.path}" (first at offset 0x${prev.toString(16)})`, {
            name: child.entry.name,
          });
        }
        names.set(child.entry.name, rec.offset);
      }
      children.push(child);
      if (rec.flags & FLAG_MULTI_EXTENT) {
        if (child.entry.type !== 'file') return fail('RB_ERR_ISO_FORMAT', this.childWhere(child), `multi-extent flag on a ${child.entry.type}`);
        pending = { child, rec };
      }
    }
    if (pending) {
      return fail('RB_ERR_ISO_FORMAT', dirWhere, `multi-extent file "${pending.child.entry.path}" has no final extent`);
    }
    return ok(children);
  }

  /** One record of `dir` (not "." / "..", a continuation or an associated file); undefined if skipped. */
  private async recordChild(rec: DirRecord, dir: DirNode, where: Where): Promise<IsoResult<Child | undefined>> {
    if (rec.unitSize !== 0 || rec.gap !== 0) {
      return fail('RB_ERR_ISO_UNSUPPORTED', where, `interleaved recording (file unit size ${rec.unitSize}, gap ${rec.gap}) is not supported`, {
        unitSize: rec.unitSize,
        gap: rec.gap,
      });
    }
    let info: RockRidgeInfo | undefined;
    if (this.config.naming === 'rockridge') {
      const rr = await this.rockRidge(rec, where, this.config.suspSkip);
      if (!rr.ok) return rr;
      info = rr.value;
    }
    const name = childName(this.config.naming, rec, info, where);
    if (!name.ok) return name;
    const path = joinPath(dir.path, name.value);
    const at: Where = { ...where, record: recordLabel('directory record', path) };
    const child = await this.makeChild(rec, info, path, name.value, dir, at);
    if (child.ok && child.value) child.value.at = { lba: at.lba!, offset: at.offset! };
    return child;
  }

  private addExtent(entry: IsoEntry, rec: DirRecord, where: Where): IsoResult<IsoEntry> {
    const extent = checkExtent(this.io.volumeBlocks, rec.lba + rec.extAttrLength, rec.dataLength, where, 'file');
    if (!extent.ok) return extent;
    if (rec.dataLength > 0) entry.extents.push(extent.value);
    entry.size += rec.dataLength;
    const volumeBytes = this.io.volumeBlocks * SECTOR_SIZE;
    if (entry.size > volumeBytes) {
      return fail('RB_ERR_ISO_HOSTILE', where, `absurd size: multi-extent file totals ${entry.size} bytes, more than the ${volumeBytes}-byte volume`, {
        size: entry.size,
      });
    }
    return ok(entry);
  }

  private async makeChild(
    rec: DirRecord,
    info: RockRidgeInfo | undefined,
    path: string,
    name: string,
    parent: DirNode,
    where: Where,
  ): Promise<IsoResult<Child | undefined>> {
    const isDirRecord = (rec.flags & FLAG_DIRECTORY) !== 0;
    const fmt = info?.mode !== undefined ? info.mode & S_IFMT : undefined;
    const depth = parent.depth + 1;
    const base: IsoEntry = {
      path,
      name,
      type: 'file',
      size: 0,
      extents: [],
      mode: info?.mode !== undefined ? info.mode & 0o7777 : isDirRecord ? PLAIN_DIR_MODE : PLAIN_FILE_MODE,
      uid: info?.uid ?? 0,
      gid: info?.gid ?? 0,
      mtime: info?.mtime ?? rec.recorded,
    };

    if (info?.relocated) {
      // Hidden: the directory appears where its CL placeholder is.
      return ok({ entry: { ...base, type: 'dir' }, relocated: true });
    }

    if (info?.childLink !== undefined) {
      if (isDirRecord) return fail('RB_ERR_ISO_FORMAT', where, 'Rock Ridge CL entry on a directory record (it belongs on a placeholder file)');
      return this.followChildLink(info.childLink, base, info, depth, where);
    }

    if (isDirRecord) {
      const deep = this.checkDepth(depth, where);
      if (!deep.ok) return deep;
      const extent = checkDirExtent(this.io.volumeBlocks, rec.lba + rec.extAttrLength, rec.dataLength, where);
      if (!extent.ok) return extent;
      return ok({ entry: { ...base, type: 'dir' }, dir: { path, lba: extent.value.lba, length: extent.value.length, depth }, relocated: false });
    }

    if (fmt === S_IFLNK || (fmt === undefined && info?.symlinkTarget !== undefined)) {
      const target = info?.symlinkTarget ?? '';
      if (target === '') return fail('RB_ERR_ISO_HOSTILE', where, 'symlink has an empty or missing Rock Ridge SL target');
      if (target.includes('\0')) return fail('RB_ERR_ISO_HOSTILE', where, `symlink target ${JSON.stringify(target)} contains NUL`);
      return ok({ entry: { ...base, type: 'symlink', symlinkTarget: target }, relocated: false });
    }

    if (fmt !== undefined && fmt !== S_IFREG && fmt !== S_IFDIR && fmt !== 0) {
      // Device nodes, FIFOs and sockets: nothing a boot server needs, and dangerous to recreate as root.
      return ok(undefined);
    }
    if (info?.sparse) {
      return fail('RB_ERR_ISO_UNSUPPORTED', where, 'Rock Ridge SF (sparse file) is not supported');
    }
    const entry: IsoEntry = { ...base, type: 'file' };
    if (info?.zisofs) entry.zisofs = true;
    const added = this.addExtent(entry, rec, where);
    return added.ok ? ok({ entry, relocated: false }) : added;
  }

  private checkDepth(depth: number, where: Where): IsoResult<number> {
    if (depth > this.config.maxDepth) {
      return fail('RB_ERR_ISO_HOSTILE', where, `directory depth ${depth} exceeds the limit of ${this.config.maxDepth}`, { depth, maxDepth: this.config.maxDepth });
    }
    return ok(depth);
  }

  /** CL: the directory's records (and its "." record with the real attributes) live at `lba`. */
  private async followChildLink(lba: number, base: IsoEntry, placeholder: RockRidgeInfo, depth: number, where: Where): Promise<IsoResult<Child>> {
    const deep = this.checkDepth(depth, where);
    if (!deep.ok) return deep;
    const target = checkExtent(this.io.volumeBlocks, lba, SECTOR_SIZE, where, 'Rock Ridge CL target');
    if (!target.ok) return target;
    const self = clTargetSelf(await this.io.read(lba * SECTOR_SIZE, SECTOR_SIZE, where), lba, where);
    if (!self.ok) return self;
    const selfInfo = await this.rockRidge(self.value, { ...where, record: `${where.record} CL target "."`, lba }, this.config.suspSkip);
    if (!selfInfo.ok) return selfInfo;
    const attrs = selfInfo.value.mode !== undefined ? selfInfo.value : placeholder;
    const entry: IsoEntry = {
      ...base,
      type: 'dir',
      mode: attrs.mode !== undefined ? attrs.mode & 0o7777 : PLAIN_DIR_MODE,
      uid: attrs.uid ?? 0,
      gid: attrs.gid ?? 0,
      mtime: selfInfo.value.mtime ?? placeholder.mtime ?? self.value.recorded,
    };
    const extent = checkDirExtent(this.io.volumeBlocks, lba, self.value.dataLength, where, 'Rock Ridge CL target directory');
    if (!extent.ok) return extent;
    return ok({ entry, dir: { path: base.path, lba, length: self.value.dataLength, depth }, relocated: false });
  }

  /**
   * At the root of a Rock Ridge tree, "rr_moved" (".rr_moved" with -hide-rr-moved) holds relocated
   * directories. libarchive hides it when it holds nothing but RE entries; so do we, to stay
   * comparable with bsdtar. A user directory of that name with real content stays visible.
   */
  async isRrMovedShell(child: Child): Promise<IsoResult<boolean>> {
    if (this.config.naming !== 'rockridge' || !child.dir || child.dir.depth !== 1) return ok(false);
    if (child.entry.name !== 'rr_moved' && child.entry.name !== '.rr_moved') return ok(false);
    const kids = await this.listDir(child.dir);
    return kids.ok ? ok(kids.value.every((k) => k.relocated)) : kids;
  }

  /**
   * Every entry, parents before children: a directory's children in record order, then each
   * subdirectory. A problem is the last thing yielded.
   */
  async *walk(): AsyncGenerator<IsoResult<IsoEntry>> {
    const visited = new Set<number>();
    const root = this.rootNode();
    visited.add(root.lba);
    const stack: DirNode[] = [root];
    let count = 0;
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const children = await this.listDir(dir);
      if (!children.ok) {
        yield children;
        return;
      }
      const subdirs: DirNode[] = [];
      for (const child of children.value) {
        if (child.relocated) continue;
        if (dir.depth === 0) {
          const shell = await this.isRrMovedShell(child);
          if (!shell.ok) {
            yield shell;
            return;
          }
          if (shell.value) continue;
        }
        if (child.dir) {
          if (visited.has(child.dir.lba)) {
            yield fail('RB_ERR_ISO_HOSTILE', this.childWhere(child), `directory loop: extent ${child.dir.lba} is already part of the tree`, { extentLba: child.dir.lba });
            return;
          }
          visited.add(child.dir.lba);
          subdirs.push(child.dir);
        }
        if (++count > this.config.maxEntries) {
          yield fail('RB_ERR_ISO_HOSTILE', this.childWhere(child), `more than ${this.config.maxEntries} entries`, { maxEntries: this.config.maxEntries });
          return;
        }
        yield ok(child.entry);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }

  /** Descends only the directories on `path`; undefined if any component is missing. */
  async lookup(path: string, listCached: (dir: DirNode) => Promise<IsoResult<Child[]>>): Promise<IsoResult<IsoEntry | undefined>> {
    const parts = path.split('/').filter((p) => p !== '');
    if (parts.length === 0 || parts.some((p) => p === '.' || p === '..')) return ok(undefined);
    let dir = this.rootNode();
    const seen = new Set<number>([dir.lba]);
    for (let i = 0; i < parts.length; i++) {
      const children = await listCached(dir);
      if (!children.ok) return children;
      const hit = children.value.find((c) => !c.relocated && c.entry.name === parts[i]);
      if (!hit) return ok(undefined);
      if (i === 0) {
        const shell = await this.isRrMovedShell(hit);
        if (!shell.ok) return shell;
        if (shell.value) return ok(undefined);
      }
      // A copy: listings are cached, callers must not be able to alter them.
      if (i === parts.length - 1) return ok({ ...hit.entry, extents: hit.entry.extents.map((x) => ({ ...x })) });
      if (!hit.dir) return ok(undefined);
      if (seen.has(hit.dir.lba)) {
        return fail('RB_ERR_ISO_HOSTILE', this.childWhere(hit), `directory loop: extent ${hit.dir.lba} is already on the path`, { extentLba: hit.dir.lba });
      }
      seen.add(hit.dir.lba);
      dir = hit.dir;
    }
    return ok(undefined);
  }
}
