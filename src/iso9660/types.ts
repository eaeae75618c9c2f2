/** Public shapes of the ISO9660 reader, shared by the tree walker, the image and extraction. */

export interface IsoExtent {
  lba: number;
  length: number;
}

export interface IsoEntry {
  /** Relative, '/'-separated, no leading '/', e.g. 'isolinux/vmlinuz0'; '' is never yielded. */
  path: string;
  /** Last component, decoded with priority Rock Ridge > Joliet > ISO9660. */
  name: string;
  type: 'file' | 'dir' | 'symlink';
  /** File size in bytes (sum of all extents; may exceed 2^32). 0 for directories and symlinks. */
  size: number;
  /** Data extents in order (multi-extent files have several); empty for directories, symlinks, empty files. */
  extents: IsoExtent[];
  /**
   * Permission bits only (0o7777 mask) as bsdtar would report them: the Rock Ridge PX mode when
   * present, otherwise libarchive's defaults for extension-less records, 0o700 for directories and
   * 0o400 for files.
   */
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  /** For type 'symlink': the Rock Ridge SL target, recorded as-is and never followed. */
  symlinkTarget?: string;
  /** Set when the file is zisofs-compressed (Rock Ridge ZF); reading such files is refused. */
  zisofs?: boolean;
}

export type Naming = 'rockridge' | 'joliet' | 'iso9660';

export interface OpenOptions {
  /** Deepest directory level accepted (root children are level 1). Default 128. */
  maxDepth?: number;
  /** Most entries a walk may produce. Default 1,000,000. */
  maxEntries?: number;
}

export const DEFAULT_MAX_DEPTH = 128;
export const DEFAULT_MAX_ENTRIES = 1_000_000;
/** No sane directory is this large (~300k entries); larger ones are treated as hostile. */
export const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;
