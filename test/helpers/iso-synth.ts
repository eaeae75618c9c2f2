/**
 * Tiny test-side ISO9660 byte builder for crafting exact (and hostile) images: arbitrary identifier
 * bytes, System Use areas, extent overrides, multi-extent records, Joliet trees and boot catalogs.
 * It writes no path tables (the reader never uses them).
 */

export const SECTOR = 2048;
export const FIXED_DATE = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));

export interface Ctx {
  /** LBA assigned to the node or blob with this id ('root' is the root directory). */
  lbaOf(id: string): number;
}
export type SuSpec = Buffer | ((ctx: Ctx) => Buffer);

interface NodeBase {
  name: string | Buffer;
  id?: string;
  su?: SuSpec;
  flags?: number;
  /** Write this LBA / size into the record instead of the allocated ones. */
  lba?: number | ((ctx: Ctx) => number);
  size?: number;
  /** Use the extent (LBA and size) of the node with this id. */
  pointTo?: string;
}
export interface SynthFile extends NodeBase {
  data?: Buffer;
  /** Multi-extent file: one record per part, flag 0x80 on all but the last. */
  parts?: Buffer[];
}
export interface SynthDir extends NodeBase {
  dir: SynthNode[];
  /** System Use of this directory's own "." record. */
  selfSu?: SuSpec;
}
export type SynthNode = SynthFile | SynthDir;

export interface SynthSpec {
  root: SynthNode[];
  rootSelfSu?: SuSpec;
  joliet?: SynthNode[];
  /** Raw blocks (e.g. CE continuation areas); data may depend on assigned LBAs but not change length. */
  blobs?: { id: string; data: Buffer | ((ctx: Ctx) => Buffer) }[];
  bootCatalog?: Buffer | ((ctx: Ctx) => Buffer);
  volumeBlocks?: (actual: number) => number;
  volumeId?: string;
  systemId?: string;
}

function isDir(n: SynthNode): n is SynthDir {
  return (n as SynthDir).dir !== undefined;
}

function both16(b: Buffer, off: number, v: number): void {
  b.writeUInt16LE(v, off);
  b.writeUInt16BE(v, off + 2);
}
function both32(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v >>> 0, off);
  b.writeUInt32BE(v >>> 0, off + 4);
}

export function shortDate(d: Date = FIXED_DATE, tzQuarterHours = 0): Buffer {
  const local = new Date(d.getTime() + tzQuarterHours * 15 * 60_000);
  const b = Buffer.alloc(7);
  b[0] = local.getUTCFullYear() - 1900;
  b[1] = local.getUTCMonth() + 1;
  b[2] = local.getUTCDate();
  b[3] = local.getUTCHours();
  b[4] = local.getUTCMinutes();
  b[5] = local.getUTCSeconds();
  b.writeInt8(tzQuarterHours, 6);
  return b;
}

export function utf16be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i + 1 < le.length; i += 2) {
    be[i] = le[i + 1]!;
    be[i + 1] = le[i]!;
  }
  return be;
}

/** One directory record. */
export function dirRecord(o: { name: Buffer; lba: number; size: number; flags?: number; su?: Buffer; date?: Buffer; unitSize?: number; gap?: number }): Buffer {
  const su = o.su ?? Buffer.alloc(0);
  const pad = o.name.length % 2 === 0 ? 1 : 0;
  let len = 33 + o.name.length + pad + su.length;
  if (len % 2) len++;
  if (len > 255) throw new Error(`synth: record for ${o.name.toString('latin1')} is ${len} bytes (> 255)`);
  const b = Buffer.alloc(len);
  b[0] = len;
  both32(b, 2, o.lba);
  both32(b, 10, o.size);
  (o.date ?? shortDate()).copy(b, 18);
  b[25] = o.flags ?? 0;
  b[26] = o.unitSize ?? 0;
  b[27] = o.gap ?? 0;
  both16(b, 28, 1);
  b[32] = o.name.length;
  o.name.copy(b, 33);
  su.copy(b, 33 + o.name.length + pad);
  return b;
}

/** Packs records into sectors: a record that does not fit in the rest of a sector starts the next one. */
export function packRecords(records: Buffer[]): Buffer {
  const sectors: Buffer[] = [];
  let cur = Buffer.alloc(SECTOR);
  let off = 0;
  for (const r of records) {
    if (off + r.length > SECTOR) {
      sectors.push(cur);
      cur = Buffer.alloc(SECTOR);
      off = 0;
    }
    r.copy(cur, off);
    off += r.length;
  }
  sectors.push(cur);
  return Buffer.concat(sectors);
}

interface Planned {
  node: SynthNode | undefined; // undefined: a root
  children: SynthNode[];
  selfSu: SuSpec | undefined;
  lba: number;
  size: number;
  parent: Planned | undefined;
  joliet: boolean;
}

function suOf(spec: SuSpec | undefined, ctx: Ctx): Buffer {
  if (spec === undefined) return Buffer.alloc(0);
  return typeof spec === 'function' ? spec(ctx) : spec;
}

export function buildIso(spec: SynthSpec): { image: Buffer; lbaOf(id: string): number } {
  const ids = new Map<string, { lba: number; size: number }>();
  const dummy: Ctx = { lbaOf: () => 0 };
  const nameBytes = (n: SynthNode, joliet: boolean): Buffer => (Buffer.isBuffer(n.name) ? n.name : joliet ? utf16be(n.name) : Buffer.from(n.name, 'latin1'));

  // Plan directories (BFS per tree) and their sizes, which depend only on record lengths.
  const dirs: Planned[] = [];
  const plan = (children: SynthNode[], joliet: boolean, selfSu: SuSpec | undefined): Planned => {
    const root: Planned = { node: undefined, children, selfSu, lba: 0, size: 0, parent: undefined, joliet };
    const queue = [root];
    while (queue.length) {
      const p = queue.shift()!;
      dirs.push(p);
      for (const c of p.children) if (isDir(c)) queue.push({ node: c, children: c.dir, selfSu: c.selfSu, lba: 0, size: 0, parent: p, joliet });
    }
    return root;
  };
  const pRoot = plan(spec.root, false, spec.rootSelfSu);
  const jRoot = spec.joliet ? plan(spec.joliet, true, undefined) : undefined;

  const recordsFor = (p: Planned, ctx: Ctx, childInfo: (n: SynthNode) => { lba: number; size: number }[]): Buffer[] => {
    const recs = [
      dirRecord({ name: Buffer.from([0]), lba: p.lba, size: p.size, flags: 2, su: suOf(p.selfSu, ctx) }),
      dirRecord({ name: Buffer.from([1]), lba: p.parent?.lba ?? p.lba, size: p.parent?.size ?? p.size, flags: 2 }),
    ];
    for (const c of p.children) {
      const extents = childInfo(c);
      extents.forEach((x, i) => {
        const last = i === extents.length - 1;
        const flags = (c.flags ?? (isDir(c) ? 2 : 0)) | (last ? 0 : 0x80);
        recs.push(dirRecord({ name: nameBytes(c, p.joliet), lba: x.lba, size: x.size, flags, su: i === 0 ? suOf(c.su, ctx) : undefined }));
      });
    }
    return recs;
  };
  const partsOf = (f: SynthFile): Buffer[] => f.parts ?? [f.data ?? Buffer.alloc(0)];
  const sizingInfo = (n: SynthNode) => (isDir(n) ? [{ lba: 0, size: 0 }] : partsOf(n).map(() => ({ lba: 0, size: 0 })));
  for (const p of dirs) p.size = packRecords(recordsFor(p, dummy, sizingInfo)).length;

  // Allocate: descriptors, directories, blobs, file data, boot catalog.
  let next = 16;
  const pvdLba = next++;
  const svdLba = jRoot ? next++ : -1;
  const brLba = spec.bootCatalog ? next++ : -1;
  const termLba = next++;
  const dirOf = new Map<SynthNode, Planned>();
  for (const p of dirs) {
    p.lba = next;
    next += p.size / SECTOR;
    if (p.node) dirOf.set(p.node, p);
    if (p.node?.id) ids.set(p.node.id, { lba: p.lba, size: p.size });
  }
  ids.set('root', { lba: pRoot.lba, size: pRoot.size });
  const blobData = (b: { data: Buffer | ((ctx: Ctx) => Buffer) }, c: Ctx) => (typeof b.data === 'function' ? b.data(c) : b.data);
  for (const b of spec.blobs ?? []) {
    const len = blobData(b, dummy).length;
    ids.set(b.id, { lba: next, size: len });
    next += Math.max(1, Math.ceil(len / SECTOR));
  }
  const fileExtents = new Map<SynthNode, { lba: number; size: number; data: Buffer }[]>();
  const allFiles: SynthFile[] = [];
  for (const p of dirs) for (const c of p.children) if (!isDir(c)) allFiles.push(c);
  for (const f of allFiles) {
    const xs = partsOf(f).map((data) => {
      const x = { lba: next, size: data.length, data };
      next += Math.ceil(data.length / SECTOR);
      return x;
    });
    fileExtents.set(f, xs);
    if (f.id) ids.set(f.id, { lba: xs[0]!.lba, size: xs[0]!.size });
  }
  const catLba = spec.bootCatalog ? next++ : -1;
  if (spec.bootCatalog) ids.set('catalog', { lba: catLba, size: SECTOR });
  const total = next;
  const ctx: Ctx = {
    lbaOf: (id) => {
      const v = ids.get(id);
      if (!v) throw new Error(`synth: unknown id ${id}`);
      return v.lba;
    },
  };

  const image = Buffer.alloc(total * SECTOR);
  const realInfo = (n: SynthNode): { lba: number; size: number }[] => {
    let xs: { lba: number; size: number }[] = isDir(n) ? [{ lba: dirOf.get(n)!.lba, size: dirOf.get(n)!.size }] : fileExtents.get(n)!.map((x) => ({ lba: x.lba, size: x.size }));
    if (n.pointTo) xs = [ids.get(n.pointTo)!];
    if (n.lba !== undefined) {
      const lba = typeof n.lba === 'function' ? n.lba(ctx) : n.lba;
      xs = xs.map((x) => ({ ...x, lba }));
    }
    if (n.size !== undefined) xs = xs.map((x) => ({ ...x, size: n.size! }));
    return xs;
  };
  for (const p of dirs) {
    const bytes = packRecords(recordsFor(p, ctx, realInfo));
    if (bytes.length !== p.size) throw new Error('synth: System Use length changed between passes');
    bytes.copy(image, p.lba * SECTOR);
  }
  for (const b of spec.blobs ?? []) blobData(b, ctx).copy(image, ids.get(b.id)!.lba * SECTOR);
  for (const xs of fileExtents.values()) for (const x of xs) x.data.copy(image, x.lba * SECTOR);
  if (spec.bootCatalog) {
    const cat = typeof spec.bootCatalog === 'function' ? spec.bootCatalog(ctx) : spec.bootCatalog;
    cat.copy(image, catLba * SECTOR);
  }

  const volumeBlocks = spec.volumeBlocks ? spec.volumeBlocks(total) : total;
  const writeVd = (lba: number, type: number, root: Planned | undefined, joliet: boolean): void => {
    const b = image.subarray(lba * SECTOR, (lba + 1) * SECTOR);
    b[0] = type;
    b.write('CD001', 1, 'latin1');
    b[6] = 1;
    if (type === 255 || !root) return;
    const text = (s: string, off: number, len: number) => {
      const bytes = joliet ? utf16be(s) : Buffer.from(s, 'latin1');
      b.fill(joliet ? 0 : 0x20, off, off + len);
      if (joliet) for (let i = off; i + 1 < off + len; i += 2) b.writeUInt16BE(0x20, i);
      bytes.copy(b, off, 0, Math.min(bytes.length, len));
    };
    text(spec.systemId ?? 'LINUX', 8, 32);
    text(spec.volumeId ?? 'SYNTH', 40, 32);
    both32(b, 80, volumeBlocks);
    if (joliet) b.write('%/E', 88, 'latin1');
    both16(b, 120, 1);
    both16(b, 124, 1);
    both16(b, 128, SECTOR);
    dirRecord({ name: Buffer.from([0]), lba: root.lba, size: root.size, flags: 2 }).copy(b, 156);
    for (const off of [190, 318, 446, 574]) b.fill(0x20, off, off + 128);
    b[881] = 1;
  };
  writeVd(pvdLba, 1, pRoot, false);
  if (jRoot) writeVd(svdLba, 2, jRoot, true);
  if (spec.bootCatalog) {
    const b = image.subarray(brLba * SECTOR, (brLba + 1) * SECTOR);
    b[0] = 0;
    b.write('CD001', 1, 'latin1');
    b[6] = 1;
    b.write('EL TORITO SPECIFICATION', 7, 'latin1');
    b.writeUInt32LE(catLba, 71);
  }
  writeVd(termLba, 255, undefined, false);
  return { image, lbaOf: ctx.lbaOf };
}

// ---- System Use entry builders (SUSP / Rock Ridge) ----

export function suEntry(sig: string, data: Buffer, version = 1): Buffer {
  const b = Buffer.alloc(4 + data.length);
  b.write(sig, 0, 'latin1');
  b[2] = 4 + data.length;
  b[3] = version;
  data.copy(b, 4);
  return b;
}
function bothBuf(v: number): Buffer {
  const b = Buffer.alloc(8);
  both32(b, 0, v);
  return b;
}

export const su = {
  sp: (skip = 0) => suEntry('SP', Buffer.from([0xbe, 0xef, skip])),
  er: (id = 'RRIP_1991A') => {
    const des = 'THE ROCK RIDGE INTERCHANGE PROTOCOL';
    const src = 'SYNTH';
    return suEntry('ER', Buffer.concat([Buffer.from([id.length, des.length, src.length, 1]), Buffer.from(id + des + src, 'latin1')]));
  },
  px: (mode: number, o: { nlink?: number; uid?: number; gid?: number; ino?: number } = {}) =>
    suEntry('PX', Buffer.concat([bothBuf(mode), bothBuf(o.nlink ?? 1), bothBuf(o.uid ?? 0), bothBuf(o.gid ?? 0), ...(o.ino !== undefined ? [bothBuf(o.ino)] : [])])),
  nm: (name: string | Buffer, flags = 0) => suEntry('NM', Buffer.concat([Buffer.from([flags]), Buffer.isBuffer(name) ? name : Buffer.from(name, 'utf8')])),
  /** Raw SL entry from components: [flags, content]. */
  sl: (components: [number, string | Buffer][], flags = 0) =>
    suEntry(
      'SL',
      Buffer.concat([
        Buffer.from([flags]),
        ...components.map(([f, c]) => {
          const bytes = Buffer.isBuffer(c) ? c : Buffer.from(c, 'utf8');
          return Buffer.concat([Buffer.from([f, bytes.length]), bytes]);
        }),
      ]),
    ),
  /** SL for a plain path like "/etc/passwd" or "../x". */
  slPath: (target: string) => {
    const comps: [number, string][] = [];
    if (target.startsWith('/')) comps.push([0x08, '']);
    for (const part of target.split('/').filter((p) => p !== '')) {
      comps.push(part === '..' ? [0x04, ''] : part === '.' ? [0x02, ''] : [0, part]);
    }
    return su.sl(comps);
  },
  tf: (flags: number, dates: Buffer[]) => suEntry('TF', Buffer.concat([Buffer.from([flags]), ...dates])),
  ce: (lba: number, offset: number, length: number) => suEntry('CE', Buffer.concat([bothBuf(lba), bothBuf(offset), bothBuf(length)])),
  cl: (lba: number) => suEntry('CL', bothBuf(lba)),
  pl: (lba: number) => suEntry('PL', bothBuf(lba)),
  re: () => suEntry('RE', Buffer.alloc(0)),
  st: () => suEntry('ST', Buffer.alloc(0)),
  zf: (size: number) => {
    const d = Buffer.alloc(12);
    d.write('pz', 0, 'latin1');
    d[2] = 4;
    d[3] = 15;
    both32(d, 4, size);
    return suEntry('ZF', d);
  },
};

/** SP + ER for the root "." record of a Rock Ridge tree. */
export function rrRoot(): Buffer {
  return Buffer.concat([su.sp(), su.px(0o40755), su.er()]);
}
/** Typical child RR: NM + PX. */
export function rrFile(name: string, mode = 0o100644, extra: Buffer[] = []): Buffer {
  return Buffer.concat([su.px(mode), su.nm(name), ...extra]);
}

// ---- El Torito catalog builder ----

export interface CatEntry {
  bootable?: boolean;
  media?: number;
  loadSegment?: number;
  sectorCount?: number;
  lba: number;
}
function bootEntry(e: CatEntry): Buffer {
  const b = Buffer.alloc(32);
  b[0] = e.bootable === false ? 0 : 0x88;
  b[1] = e.media ?? 0;
  b.writeUInt16LE(e.loadSegment ?? 0, 2);
  b.writeUInt16LE(e.sectorCount ?? 4, 6);
  b.writeUInt32LE(e.lba, 8);
  return b;
}
export function validationEntry(platform: number, id = ''): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 1;
  b[1] = platform;
  b.write(id, 4, 24, 'latin1');
  b[30] = 0x55;
  b[31] = 0xaa;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + b.readUInt16LE(i)) & 0xffff;
  b.writeUInt16LE((0x10000 - sum) & 0xffff, 28);
  return b;
}
export function bootCatalog(platform: number, def: CatEntry, sections: { platform: number; entries: CatEntry[]; extensionAfterFirst?: boolean }[] = []): Buffer {
  const parts = [validationEntry(platform), bootEntry(def)];
  sections.forEach((s, i) => {
    const h = Buffer.alloc(32);
    h[0] = i === sections.length - 1 ? 0x91 : 0x90;
    h[1] = s.platform;
    h.writeUInt16LE(s.entries.length, 2);
    parts.push(h);
    s.entries.forEach((e, j) => {
      const be = bootEntry(e);
      if (j === 0 && s.extensionAfterFirst) be[1] = be[1]! | 0x20;
      parts.push(be);
      if (j === 0 && s.extensionAfterFirst) {
        const ext = Buffer.alloc(32);
        ext[0] = 0x44;
        parts.push(ext);
      }
    });
  });
  const out = Buffer.alloc(SECTOR);
  Buffer.concat(parts).copy(out);
  return out;
}
