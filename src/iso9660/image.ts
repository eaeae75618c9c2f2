/**
 * IsoImage: an ISO9660 image file read with positional reads (FileHandle.read at offsets). Nothing
 * buffers the whole image; directories are read one extent at a time and file data is streamed.
 *
 * This is the service boundary of the codec: the parsers and the tree walker return problems, and
 * here each one is thrown (`unwrap`) as the RhevbootError it describes, for copycds and the API.
 */
import { open as fsOpen, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fail, ok, isoError, recordLabel, unwrap, type IsoResult, type Where } from './fail.js';
import { parseVolumeDescriptor, checkPrimary, isUdfIdent, FIRST_DESCRIPTOR_LBA, MAX_DESCRIPTORS, type VolumeInfo } from './descriptors.js';
import { parseDirectoryRecord, SECTOR_SIZE } from './record.js';
import { parseSp, collectSuspEntries, type ContinuationReader } from './susp.js';
import { parseRockRidge, RR_EXTENSION_IDS } from './rockridge.js';
import { parseBootCatalog, catalogNeedsMore, type ElToritoEntry } from './eltorito.js';
import { DirectoryTree, type Child, type DirNode } from './tree.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTRIES, type IsoEntry, type Naming, type OpenOptions } from './types.js';

const DEFAULT_READ_FILE_LIMIT = 16 * 1024 * 1024;
const DEFAULT_STREAM_CHUNK = 1024 * 1024;
/** Boot catalogs are one sector in practice; 16 sectors hold 1024 entries. */
const MAX_CATALOG_SECTORS = 16;
const LISTING_CACHE = 64;

/** The walker's results as entries: its problem, if any, is thrown where the caller iterates. */
async function* unwrapAll<T>(results: AsyncIterable<IsoResult<T>>): AsyncGenerator<T> {
  for await (const r of results) yield unwrap(r);
}

interface Descriptors {
  primary: VolumeInfo;
  joliet: VolumeInfo | undefined;
  bootCatalogLba: number | undefined;
  hasUdf: boolean;
}

export class IsoImage {
  readonly imagePath: string;
  readonly volumeId: string;
  readonly systemId: string;
  readonly publisherId: string;
  readonly applicationId: string;
  readonly volumeBlocks: number;
  readonly blockSize: number;
  readonly naming: Naming;
  readonly hasRockRidge: boolean;
  readonly hasJoliet: boolean;
  /** A UDF recognition sequence follows the ISO9660 descriptors (UDF bridge image). */
  readonly hasUdf: boolean;

  private fh: FileHandle | undefined;
  private readonly tree: DirectoryTree;
  private readonly bootCatalogLba: number | undefined;
  private readonly listings = new Map<number, Child[]>();

  private constructor(
    imagePath: string,
    fh: FileHandle,
    d: Descriptors,
    naming: Naming,
    hasRockRidge: boolean,
    suspSkip: number,
    opts: OpenOptions,
  ) {
    this.imagePath = imagePath;
    this.fh = fh;
    this.volumeId = d.primary.volumeId;
    this.systemId = d.primary.systemId;
    this.publisherId = d.primary.publisherId;
    this.applicationId = d.primary.applicationId;
    this.volumeBlocks = d.primary.volumeBlocks;
    this.blockSize = d.primary.blockSize;
    this.naming = naming;
    this.hasRockRidge = hasRockRidge;
    this.hasJoliet = d.joliet !== undefined;
    this.hasUdf = d.hasUdf;
    this.bootCatalogLba = d.bootCatalogLba;
    const root = naming === 'joliet' ? d.joliet!.root : d.primary.root;
    this.tree = new DirectoryTree(
      { image: imagePath, volumeBlocks: this.volumeBlocks, read: (p, l, w) => this.read(p, l, w) },
      { naming, root, suspSkip, maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH, maxEntries: opts.maxEntries ?? DEFAULT_MAX_ENTRIES },
    );
  }

  static async open(imagePath: string, opts: OpenOptions = {}): Promise<IsoImage> {
    let fh: FileHandle;
    try {
      fh = await fsOpen(imagePath, 'r');
    } catch (err) {
      throw isoError('RB_ERR_ISO_IO', { image: imagePath, record: 'image file' }, `cannot open: ${(err as Error).message}`, {}, err);
    }
    try {
      const size = (await fh.stat()).size;
      const d = await IsoImage.readDescriptors(imagePath, fh, size);
      const volumeBytes = d.primary.volumeBlocks * SECTOR_SIZE;
      if (size < volumeBytes) {
        throw isoError('RB_ERR_ISO_FORMAT', { image: imagePath, record: 'primary volume descriptor', lba: FIRST_DESCRIPTOR_LBA }, `image is truncated: the volume has ${d.primary.volumeBlocks} blocks (${volumeBytes} bytes) but the file has ${size} bytes`, {
          volumeBlocks: d.primary.volumeBlocks,
          fileSize: size,
        });
      }
      const rr = await IsoImage.detectRockRidge(imagePath, fh, d.primary);
      const naming: Naming = rr.present ? 'rockridge' : d.joliet ? 'joliet' : 'iso9660';
      return new IsoImage(imagePath, fh, d, naming, rr.present, rr.skip, opts);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  private static async readDescriptors(imagePath: string, fh: FileHandle, size: number): Promise<Descriptors> {
    const where = (lba: number): Where => ({ image: imagePath, record: 'volume descriptor', lba });
    if (size < (FIRST_DESCRIPTOR_LBA + 1) * SECTOR_SIZE) {
      throw isoError('RB_ERR_ISO_FORMAT', { image: imagePath, record: 'image file' }, `${size} bytes is too small for an ISO9660 image (the first volume descriptor is at byte 32768)`, { fileSize: size });
    }
    let primary: VolumeInfo | undefined;
    let joliet: VolumeInfo | undefined;
    let bootCatalogLba: number | undefined;
    let hasUdf = false;
    let terminated = false;
    for (let i = 0; i < MAX_DESCRIPTORS; i++) {
      const lba = FIRST_DESCRIPTOR_LBA + i;
      if ((lba + 1) * SECTOR_SIZE > size) break;
      const sector = await IsoImage.readRaw(imagePath, fh, lba * SECTOR_SIZE, SECTOR_SIZE, where(lba));
      const vd = unwrap(parseVolumeDescriptor(sector, where(lba)));
      if (vd.kind === 'foreign') {
        if (isUdfIdent(vd.ident)) {
          hasUdf = true;
          continue; // The recognition sequence is a few sectors; the descriptor cap bounds the scan.
        }
        break;
      }
      if (terminated) continue; // stray CD001 sectors after the terminator are not descriptors
      if (vd.kind === 'primary') primary ??= vd.info;
      else if (vd.kind === 'joliet') joliet ??= vd.info;
      else if (vd.kind === 'boot' && vd.elTorito) bootCatalogLba ??= vd.catalogLba;
      else if (vd.kind === 'terminator') terminated = true;
    }
    if (!primary) {
      if (hasUdf) {
        throw isoError('RB_ERR_ISO_UNSUPPORTED', where(FIRST_DESCRIPTOR_LBA), 'UDF-only image (no ISO9660 primary volume descriptor); UDF is not supported', { udf: true });
      }
      throw isoError('RB_ERR_ISO_FORMAT', where(FIRST_DESCRIPTOR_LBA), 'no ISO9660 primary volume descriptor (not an ISO9660 image)');
    }
    return { primary: unwrap(checkPrimary(primary, where(FIRST_DESCRIPTOR_LBA))), joliet, bootCatalogLba, hasUdf };
  }

  /**
   * Rock Ridge is in use when the root's "." record starts with SUSP "SP" and its entries (ER or RR
   * fields) identify RRIP. The detection reads through CE because xorriso puts the ER there.
   */
  private static async detectRockRidge(imagePath: string, fh: FileHandle, primary: VolumeInfo): Promise<{ present: boolean; skip: number }> {
    const lba = primary.root.lba + primary.root.extAttrLength;
    const where: Where = { image: imagePath, record: 'root directory "." record', lba, offset: 0 };
    if (lba >= primary.volumeBlocks) {
      throw isoError('RB_ERR_ISO_HOSTILE', where, `root directory extent ${lba} past end of volume (volume has ${primary.volumeBlocks} blocks)`);
    }
    const sector = await IsoImage.readRaw(imagePath, fh, lba * SECTOR_SIZE, SECTOR_SIZE, where);
    if (sector[0] === 0) throw isoError('RB_ERR_ISO_FORMAT', where, 'root directory has no "." record');
    const self = unwrap(parseDirectoryRecord(sector, 0, SECTOR_SIZE, where));
    const skip = parseSp(self.systemUse);
    if (skip === undefined) return { present: false, skip: 0 };
    const readCe: ContinuationReader = async (ref, w) => {
      if (ref.lba >= primary.volumeBlocks) return fail('RB_ERR_ISO_HOSTILE', w, `CE continuation area at block ${ref.lba} past end of volume`);
      const block = await IsoImage.readRaw(imagePath, fh, ref.lba * SECTOR_SIZE, SECTOR_SIZE, { ...w, lba: ref.lba });
      return ok(block.subarray(ref.offset, ref.offset + ref.length));
    };
    const info = unwrap(parseRockRidge(unwrap(await collectSuspEntries(self.systemUse, where, readCe)), where));
    const present = info.present || info.extensions.some((e) => RR_EXTENSION_IDS.includes(e));
    return { present, skip };
  }

  private static async readRaw(imagePath: string, fh: FileHandle, position: number, length: number, where: Where): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await IsoImage.readFully(fh, buf, 0, length, position, where);
    return buf;
  }

  private static async readFully(fh: FileHandle, buf: Buffer, offset: number, length: number, position: number, where: Where): Promise<void> {
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, offset + done, length - done, position + done));
      } catch (err) {
        throw isoError('RB_ERR_ISO_IO', where, `read of ${length} bytes at byte ${position} failed: ${(err as Error).message}`, {}, err);
      }
      if (n === 0) {
        throw isoError('RB_ERR_ISO_FORMAT', where, `image is truncated: wanted ${length} bytes at byte ${position}, file ends after ${done}`, { position, length });
      }
      done += n;
    }
  }

  private handle(where: Where): FileHandle {
    if (!this.fh) throw isoError('RB_ERR_ISO_IO', where, 'image is closed');
    return this.fh;
  }

  /** Positional read of exactly `length` bytes at byte `position`. */
  async read(position: number, length: number, where: Where): Promise<Buffer> {
    return IsoImage.readRaw(this.imagePath, this.handle(where), position, length, where);
  }

  /** Positional read into a caller-owned buffer (lets extraction reuse large buffers). */
  async readInto(buf: Buffer, offset: number, length: number, position: number, where: Where): Promise<void> {
    return IsoImage.readFully(this.handle(where), buf, offset, length, position, where);
  }

  walk(): AsyncIterable<IsoEntry> {
    this.handle({ image: this.imagePath, record: 'walk' });
    return unwrapAll(this.tree.walk());
  }

  private async listCached(dir: DirNode): Promise<IsoResult<Child[]>> {
    const cached = this.listings.get(dir.lba);
    if (cached) return ok(cached);
    const kids = await this.tree.listDir(dir);
    if (kids.ok) {
      if (this.listings.size >= LISTING_CACHE) this.listings.delete(this.listings.keys().next().value!);
      this.listings.set(dir.lba, kids.value);
    }
    return kids;
  }

  /** Path relative to the image root ('isolinux/isolinux.cfg'); case-sensitive on decoded names. */
  async lookup(path: string): Promise<IsoEntry | undefined> {
    this.handle({ image: this.imagePath, record: recordLabel('lookup of', path) });
    return unwrap(await this.tree.lookup(path, (d) => this.listCached(d)));
  }

  private checkReadable(entry: IsoEntry): Where {
    const where: Where = { image: this.imagePath, record: recordLabel('file', entry.path), lba: entry.extents[0]?.lba };
    if (entry.type !== 'file') throw isoError('RB_ERR_ISO_UNSUPPORTED', where, `cannot read a ${entry.type} as a file`);
    if (entry.zisofs) throw isoError('RB_ERR_ISO_UNSUPPORTED', where, 'file is zisofs-compressed (Rock Ridge ZF); zisofs is not supported');
    return where;
  }

  /** Whole small file in memory; refuses files above `maxBytes` (default 16 MiB). */
  async readFile(entry: IsoEntry, maxBytes = DEFAULT_READ_FILE_LIMIT): Promise<Buffer> {
    const where = this.checkReadable(entry);
    if (entry.size > maxBytes) {
      throw isoError('RB_ERR_ISO_UNSUPPORTED', where, `file is ${entry.size} bytes, above the ${maxBytes}-byte limit for readFile (use createReadStream)`, { size: entry.size, maxBytes });
    }
    const out = Buffer.allocUnsafe(entry.size);
    let off = 0;
    for (const x of entry.extents) {
      await this.readInto(out, off, x.length, x.lba * SECTOR_SIZE, { ...where, lba: x.lba });
      off += x.length;
    }
    return out;
  }

  /** Streams all extents in order with positional reads; never loads the whole file. */
  createReadStream(entry: IsoEntry, opts: { highWaterMark?: number } = {}): NodeJS.ReadableStream {
    const where = this.checkReadable(entry);
    const chunk = Math.max(SECTOR_SIZE, opts.highWaterMark ?? DEFAULT_STREAM_CHUNK);
    const extents = entry.extents.slice();
    let idx = 0;
    let within = 0;
    const stream = new Readable({
      highWaterMark: chunk,
      read: () => {
        const x = extents[idx];
        if (!x) {
          stream.push(null);
          return;
        }
        const len = Math.min(chunk, x.length - within);
        const position = x.lba * SECTOR_SIZE + within;
        this.read(position, len, { ...where, lba: x.lba }).then(
          (buf) => {
            within += len;
            if (within >= x.length) {
              idx++;
              within = 0;
            }
            stream.push(buf);
          },
          (err: unknown) => stream.destroy(err as Error),
        );
      },
    });
    return stream;
  }

  /** El Torito boot entries, default entry first; [] when the image has no El Torito boot record. */
  async bootCatalog(): Promise<ElToritoEntry[]> {
    if (this.bootCatalogLba === undefined) return [];
    const lba = this.bootCatalogLba;
    const where: Where = { image: this.imagePath, record: 'El Torito boot catalog', lba };
    if (lba >= this.volumeBlocks) {
      throw isoError('RB_ERR_ISO_HOSTILE', where, `boot catalog LBA ${lba} past end of volume (volume has ${this.volumeBlocks} blocks)`);
    }
    let buf = await this.read(lba * SECTOR_SIZE, SECTOR_SIZE, where);
    let sectors = 1;
    while (catalogNeedsMore(buf) && sectors < MAX_CATALOG_SECTORS && lba + sectors < this.volumeBlocks) {
      buf = Buffer.concat([buf, await this.read((lba + sectors) * SECTOR_SIZE, SECTOR_SIZE, where)]);
      sectors++;
    }
    return unwrap(parseBootCatalog(buf, where));
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    this.listings.clear();
    if (fh) await fh.close();
  }
}
