/**
 * Directory tree walker: turns directory extents into IsoEntry values for one namespace (the PVD tree
 * with or without Rock Ridge, or the Joliet tree). The path table is never used: it is redundant,
 * limited to 65535 directories, and a second place for a hostile image to disagree with itself.
 *
 * Defences against hostile images live here: every extent is bounds-checked against the volume, a
 * directory extent reached twice (via records or CL) is a loop, depth and entry counts are capped,
 * names that could escape an extraction are refused, and duplicate names in one directory are refused
 * (that is how "symlink x, then x/evil" would be smuggled in).
 */
import { isoError, checkEntryName, recordLabel, type Where } from './fail.js';
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
import { jolietName, decodeUtf16be } from './joliet.js';
import { collectSuspEntries, type ContinuationRef } from './susp.js';
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

  /** Throws unless [lba, lba+length) lies inside the volume. */
  checkExtent(lba: number, length: number, where: Where, what: string): void {
    const blocks = Math.ceil(length / SECTOR_SIZE);
    if (lba + blocks > this.io.volumeBlocks || (length > 0 && lba >= this.io.volumeBlocks)) {
      throw isoError(
        'RB_ERR_ISO_HOSTILE',
        where,
        `${what} extent ${lba} (+${length} bytes) past end of volume (volume has ${this.io.volumeBlocks} blocks)`,
        { extentLba: lba, extentLength: length, volumeBlocks: this.io.volumeBlocks },
      );
    }
  }

  private checkDirExtent(lba: number, length: number, where: Where, what = 'directory'): void {
    if (length > MAX_DIRECTORY_BYTES) {
      throw isoError('RB_ERR_ISO_HOSTILE', where, `absurd directory size ${length} bytes (limit ${MAX_DIRECTORY_BYTES})`, { dirLength: length });
    }
    if (length < 68) {
      throw isoError('RB_ERR_ISO_FORMAT', where, `directory size ${length} bytes cannot hold its "." and ".." records`, { dirLength: length });
    }
    this.checkExtent(lba, length, where, what);
  }

  private async readDirExtent(dir: DirNode, where: Where): Promise<Buffer> {
    this.checkDirExtent(dir.lba, dir.length, where);
    // One positional read per directory: thousands of entries cost one syscall each directory.
    return this.io.read(dir.lba * SECTOR_SIZE, dir.length, where);
  }

  private readContinuation = async (ref: ContinuationRef, where: Where): Promise<Buffer> => {
    this.checkExtent(ref.lba, ref.offset + ref.length, where, 'CE continuation area');
    let block = this.ceCache.get(ref.lba);
    if (!block) {
      block = await this.io.read(ref.lba * SECTOR_SIZE, SECTOR_SIZE, { ...where, record: `${where.record} continuation area`, lba: ref.lba });
      if (this.ceCache.size >= CE_CACHE_BLOCKS) this.ceCache.delete(this.ceCache.keys().next().value!);
      this.ceCache.set(ref.lba, block);
    }
    return block.subarray(ref.offset, ref.offset + ref.length);
  };

  /** Best-effort name for messages about a record whose name has not been decoded (or failed to). */
  private rawLabel(identifier: Buffer): string {
    if (this.config.naming === 'joliet' && identifier.length % 2 === 0) {
      return decodeUtf16be(identifier, { image: this.io.image, record: '' });
    }
    return plainName(identifier) || identifier.toString('latin1');
  }

  private async rockRidge(rec: DirRecord, where: Where, skip: number): Promise<RockRidgeInfo> {
    const area = rec.systemUse.subarray(Math.min(skip, rec.systemUse.length));
    const entries = await collectSuspEntries(area, where, this.readContinuation);
    return parseRockRidge(entries, where);
  }

  /** Reads a directory's children in record order, with multi-extent records merged. */
  async listDir(dir: DirNode): Promise<Child[]> {
    const dirWhere = this.where(dir, 0, recordLabel('directory', dir.path));
    const buf = await this.readDirExtent(dir, dirWhere);
    const records = parseDirectoryExtent(buf, dirWhere);
    const rr = this.config.naming === 'rockridge';
    const children: Child[] = [];
    const names = new Map<string, number>();
    let pending: { child: Child; rec: DirRecord } | undefined;

    for (const rec of records) {
      if (rec.special) continue;
      const rawLabel = this.rawLabel(rec.identifier);
      let where = this.where(dir, rec.offset, recordLabel('directory record', joinPath(dir.path, rawLabel)));

      // Multi-extent continuation: same identifier as the previous record, which had flag 0x80.
      if (pending) {
        if (!rec.identifier.equals(pending.rec.identifier)) {
          throw isoError('RB_ERR_ISO_FORMAT', where, `multi-extent file "${pending.child.entry.path}" is not continued by the next record`);
        }
        this.addExtent(pending.child.entry, rec, where);
        pending = (rec.flags & FLAG_MULTI_EXTENT) !== 0 ? { child: pending.child, rec } : undefined;
        continue;
      }
      // Associated files are Apple resource forks and the like; they share the name of the main file.
      if (rec.flags & FLAG_ASSOCIATED) continue;
      if (rec.unitSize !== 0 || rec.gap !== 0) {
        throw isoError('RB_ERR_ISO_UNSUPPORTED', where, `interleaved recording (file unit size ${rec.unitSize}, gap ${rec.gap}) is not supported`, {
          unitSize: rec.unitSize,
          gap: rec.gap,
        });
      }

      let name: string;
      let info: RockRidgeInfo | undefined;
      if (rr) {
        info = await this.rockRidge(rec, where, this.config.suspSkip);
        if (info.nameSpecial) {
          throw isoError('RB_ERR_ISO_HOSTILE', where, `Rock Ridge NM entry names a child record "${info.nameSpecial === 'current' ? '.' : '..'}"`);
        }
        name = info.name ?? plainName(rec.identifier);
        checkEntryName(name, where, info.name !== undefined ? 'Rock Ridge NM' : 'ISO9660');
      } else if (this.config.naming === 'joliet') {
        name = jolietName(rec.identifier, where);
        checkEntryName(name, where, 'Joliet');
      } else {
        name = plainName(rec.identifier);
        checkEntryName(name, where, 'ISO9660');
      }
      const path = joinPath(dir.path, name);
      where = { ...where, record: recordLabel('directory record', path) };

      const child = await this.makeChild(rec, info, path, name, dir, where);
      if (child === undefined) continue;
      child.at = { lba: where.lba!, offset: where.offset! };
      if (!child.relocated) {
        const prev = names.get(name);
        if (prev !== undefined) {
          throw isoError('RB_ERR_ISO_HOSTILE', where, `duplicate name "${name}" in directory "/${dir.path}" (first at offset 0x${prev.toString(16)})`, { name });
        }
        names.set(name, rec.offset);
      }
      children.push(child);
      if (rec.flags & FLAG_MULTI_EXTENT) {
        if (child.entry.type !== 'file') {
          throw isoError('RB_ERR_ISO_FORMAT', where, `multi-extent flag on a ${child.entry.type}`);
        }
        pending = { child, rec };
      }
    }
    if (pending) {
      throw isoError('RB_ERR_ISO_FORMAT', dirWhere, `multi-extent file "${pending.child.entry.path}" has no final extent`);
    }
    return children;
  }

  private addExtent(entry: IsoEntry, rec: DirRecord, where: Where): void {
    const lba = rec.lba + rec.extAttrLength;
    this.checkExtent(lba, rec.dataLength, where, 'file');
    if (rec.dataLength > 0) entry.extents.push({ lba, length: rec.dataLength });
    entry.size += rec.dataLength;
    const volumeBytes = this.io.volumeBlocks * SECTOR_SIZE;
    if (entry.size > volumeBytes) {
      throw isoError('RB_ERR_ISO_HOSTILE', where, `absurd size: multi-extent file totals ${entry.size} bytes, more than the ${volumeBytes}-byte volume`, {
        size: entry.size,
      });
    }
  }

  private async makeChild(rec: DirRecord, info: RockRidgeInfo | undefined, path: string, name: string, parent: DirNode, where: Where): Promise<Child | undefined> {
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
      return { entry: { ...base, type: 'dir' }, relocated: true };
    }

    if (info?.childLink !== undefined) {
      if (isDirRecord) throw isoError('RB_ERR_ISO_FORMAT', where, 'Rock Ridge CL entry on a directory record (it belongs on a placeholder file)');
      return this.followChildLink(info.childLink, base, info, depth, where);
    }

    if (isDirRecord) {
      this.checkDepth(depth, where);
      const lba = rec.lba + rec.extAttrLength;
      this.checkDirExtent(lba, rec.dataLength, where);
      return { entry: { ...base, type: 'dir' }, dir: { path, lba, length: rec.dataLength, depth }, relocated: false };
    }

    if (fmt === S_IFLNK || (fmt === undefined && info?.symlinkTarget !== undefined)) {
      const target = info?.symlinkTarget ?? '';
      if (target === '') throw isoError('RB_ERR_ISO_HOSTILE', where, 'symlink has an empty or missing Rock Ridge SL target');
      if (target.includes('\0')) throw isoError('RB_ERR_ISO_HOSTILE', where, `symlink target ${JSON.stringify(target)} contains NUL`);
      return { entry: { ...base, type: 'symlink', symlinkTarget: target }, relocated: false };
    }

    if (fmt !== undefined && fmt !== S_IFREG && fmt !== S_IFDIR && fmt !== 0) {
      // Device nodes, FIFOs and sockets: nothing a boot server needs, and dangerous to recreate as root.
      return undefined;
    }
    if (info?.sparse) {
      throw isoError('RB_ERR_ISO_UNSUPPORTED', where, 'Rock Ridge SF (sparse file) is not supported');
    }
    const entry: IsoEntry = { ...base, type: 'file' };
    if (info?.zisofs) entry.zisofs = true;
    this.addExtent(entry, rec, where);
    return { entry, relocated: false };
  }

  private checkDepth(depth: number, where: Where): void {
    if (depth > this.config.maxDepth) {
      throw isoError('RB_ERR_ISO_HOSTILE', where, `directory depth ${depth} exceeds the limit of ${this.config.maxDepth}`, { depth, maxDepth: this.config.maxDepth });
    }
  }

  /** CL: the directory's records (and its "." record with the real attributes) live at `lba`. */
  private async followChildLink(lba: number, base: IsoEntry, placeholder: RockRidgeInfo, depth: number, where: Where): Promise<Child> {
    this.checkDepth(depth, where);
    this.checkExtent(lba, SECTOR_SIZE, where, 'Rock Ridge CL target');
    const first = await this.io.read(lba * SECTOR_SIZE, SECTOR_SIZE, where);
    const self = first[0] === 0 ? undefined : parseDirectoryRecord(first, 0, SECTOR_SIZE, { ...where, record: `${where.record} CL target`, lba });
    if (!self || self.special !== 'self' || (self.flags & FLAG_DIRECTORY) === 0) {
      throw isoError('RB_ERR_ISO_FORMAT', where, `Rock Ridge CL points at LBA ${lba}, which does not start with a directory's "." record`, { childLink: lba });
    }
    if (self.lba !== lba) {
      throw isoError('RB_ERR_ISO_FORMAT', where, `Rock Ridge CL target at LBA ${lba} has a "." record pointing at LBA ${self.lba}`, { childLink: lba });
    }
    const selfInfo = await this.rockRidge(self, { ...where, record: `${where.record} CL target "."`, lba }, this.config.suspSkip);
    const attrs = selfInfo.mode !== undefined ? selfInfo : placeholder;
    const entry: IsoEntry = {
      ...base,
      type: 'dir',
      mode: attrs.mode !== undefined ? attrs.mode & 0o7777 : PLAIN_DIR_MODE,
      uid: attrs.uid ?? 0,
      gid: attrs.gid ?? 0,
      mtime: selfInfo.mtime ?? placeholder.mtime ?? self.recorded,
    };
    this.checkDirExtent(lba, self.dataLength, where, 'Rock Ridge CL target directory');
    return { entry, dir: { path: base.path, lba, length: self.dataLength, depth }, relocated: false };
  }

  /**
   * At the root of a Rock Ridge tree, "rr_moved" (".rr_moved" with -hide-rr-moved) holds relocated
   * directories. libarchive hides it when it holds nothing but RE entries; so do we, to stay
   * comparable with bsdtar. A user directory of that name with real content stays visible.
   */
  async isRrMovedShell(child: Child): Promise<boolean> {
    if (this.config.naming !== 'rockridge' || !child.dir || child.dir.depth !== 1) return false;
    if (child.entry.name !== 'rr_moved' && child.entry.name !== '.rr_moved') return false;
    const kids = await this.listDir(child.dir);
    return kids.every((k) => k.relocated);
  }

  /** Every entry, parents before children: a directory's children in record order, then each subdirectory. */
  async *walk(): AsyncGenerator<IsoEntry> {
    const visited = new Set<number>();
    const root = this.rootNode();
    visited.add(root.lba);
    const stack: DirNode[] = [root];
    let count = 0;
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const children = await this.listDir(dir);
      const subdirs: DirNode[] = [];
      for (const child of children) {
        if (child.relocated) continue;
        if (dir.depth === 0 && (await this.isRrMovedShell(child))) continue;
        if (child.dir) {
          if (visited.has(child.dir.lba)) {
            throw isoError(
              'RB_ERR_ISO_HOSTILE',
              { image: this.io.image, record: recordLabel('directory record', child.entry.path), ...child.at },
              `directory loop: extent ${child.dir.lba} is already part of the tree`,
              { extentLba: child.dir.lba },
            );
          }
          visited.add(child.dir.lba);
          subdirs.push(child.dir);
        }
        if (++count > this.config.maxEntries) {
          throw isoError('RB_ERR_ISO_HOSTILE', { image: this.io.image, record: recordLabel('directory record', child.entry.path), ...child.at }, `more than ${this.config.maxEntries} entries`, {
            maxEntries: this.config.maxEntries,
          });
        }
        yield child.entry;
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }

  /** Descends only the directories on `path`; undefined if any component is missing. */
  async lookup(path: string, listCached: (dir: DirNode) => Promise<Child[]>): Promise<IsoEntry | undefined> {
    const parts = path.split('/').filter((p) => p !== '');
    if (parts.length === 0 || parts.some((p) => p === '.' || p === '..')) return undefined;
    let dir = this.rootNode();
    const seen = new Set<number>([dir.lba]);
    for (let i = 0; i < parts.length; i++) {
      const children = await listCached(dir);
      const hit = children.find((c) => !c.relocated && c.entry.name === parts[i]);
      if (!hit) return undefined;
      if (i === 0 && (await this.isRrMovedShell(hit))) return undefined;
      // A copy: listings are cached, callers must not be able to alter them.
      if (i === parts.length - 1) return { ...hit.entry, extents: hit.entry.extents.map((x) => ({ ...x })) };
      if (!hit.dir) return undefined;
      if (seen.has(hit.dir.lba)) {
        throw isoError('RB_ERR_ISO_HOSTILE', { image: this.io.image, record: recordLabel('directory record', hit.entry.path), ...hit.at }, `directory loop: extent ${hit.dir.lba} is already on the path`, {
          extentLba: hit.dir.lba,
        });
      }
      seen.add(hit.dir.lba);
      dir = hit.dir;
    }
    return undefined;
  }
}
