/**
 * Volume descriptors (ECMA-119 §8): 2048-byte sectors from LBA 16 up to the set terminator (type 255).
 *   type 0   Boot Record — El Torito when the boot system id is "EL TORITO SPECIFICATION";
 *   type 1   Primary Volume Descriptor (PVD) — the ISO9660 tree, with Rock Ridge if present;
 *   type 2   Supplementary VD — Joliet when its escape sequences announce UCS-2 (see joliet.ts);
 *   type 3   Volume Partition descriptor (never seen in practice);
 *   type 255 terminator.
 * After the terminator, a UDF bridge image continues with the ECMA-167 Volume Recognition Sequence
 * ("BEA01", "NSR02"/"NSR03", "TEA01"). A UDF-only image (no "CD001" at LBA 16) — e.g. some Windows
 * media — cannot be read here and is reported as unsupported.
 */
import { fail, ok, type IsoResult, type Where } from './fail.js';
import { jolietLevel, jolietText } from './joliet.js';
import { parseDirectoryRecord, decodeLongDate, type DirRecord } from './record.js';

export const FIRST_DESCRIPTOR_LBA = 16;
/** Real images have 2–5 descriptors; the cap only bounds the scan on hostile input. */
export const MAX_DESCRIPTORS = 64;

export interface VolumeInfo {
  systemId: string;
  volumeId: string;
  volumeSetId: string;
  publisherId: string;
  dataPreparerId: string;
  applicationId: string;
  volumeBlocks: number;
  blockSize: number;
  created: Date | undefined;
  modified: Date | undefined;
  root: DirRecord;
}

export type VolumeDescriptor =
  | { kind: 'primary'; info: VolumeInfo }
  | { kind: 'joliet'; level: 1 | 2 | 3; info: VolumeInfo }
  | { kind: 'supplementary' }
  | { kind: 'boot'; elTorito: boolean; catalogLba: number }
  | { kind: 'partition' }
  | { kind: 'terminator' }
  | { kind: 'other'; type: number }
  /** Not an ECMA-119 descriptor; `ident` tells whether it is part of a UDF recognition sequence. */
  | { kind: 'foreign'; ident: string };

const UDF_IDENTS = new Set(['BEA01', 'NSR02', 'NSR03', 'TEA01', 'BOOT2', 'CDW02']);

export function isUdfIdent(ident: string): boolean {
  return UDF_IDENTS.has(ident);
}

function text(b: Buffer, start: number, end: number): string {
  return b.toString('latin1', start, end).replace(/[\0 ]+$/u, '');
}

function parseVolumeInfo(b: Buffer, where: Where, ucs2: boolean): IsoResult<VolumeInfo> {
  const field = ucs2 ? (s: number, e: number) => jolietText(b.subarray(s, e)) : (s: number, e: number) => text(b, s, e);
  const rootWhere: Where = { ...where, record: `${where.record} root directory record` };
  // The root record is exactly 34 bytes at offset 156; it must not spill into the volume set id.
  const root = parseDirectoryRecord(b, 156, 190, rootWhere);
  if (!root.ok) return root;
  return ok({
    systemId: field(8, 40),
    volumeId: field(40, 72),
    volumeBlocks: b.readUInt32LE(80),
    blockSize: b.readUInt16LE(128),
    volumeSetId: field(190, 318),
    publisherId: field(318, 446),
    dataPreparerId: field(446, 574),
    applicationId: field(574, 702),
    created: decodeLongDate(b, 813),
    modified: decodeLongDate(b, 830),
    root: root.value,
  });
}

/** Classifies one 2048-byte descriptor sector. */
export function parseVolumeDescriptor(sector: Buffer, where: Where): IsoResult<VolumeDescriptor> {
  if (sector.length < 2048) {
    return fail('RB_ERR_ISO_FORMAT', where, `volume descriptor is ${sector.length} bytes, expected 2048`);
  }
  const ident = sector.toString('latin1', 1, 6);
  if (ident !== 'CD001') return ok({ kind: 'foreign', ident });
  const type = sector[0]!;
  switch (type) {
    case 0: {
      const system = text(sector, 7, 39);
      return ok({ kind: 'boot', elTorito: system === 'EL TORITO SPECIFICATION', catalogLba: sector.readUInt32LE(71) });
    }
    case 1: {
      const info = parseVolumeInfo(sector, { ...where, record: 'primary volume descriptor' }, false);
      return info.ok ? ok({ kind: 'primary', info: info.value }) : info;
    }
    case 2: {
      const level = jolietLevel(sector.subarray(88, 120));
      // Bit 0 of the volume flags set means escape sequences not registered per ISO 2375: not Joliet.
      if (level === undefined || (sector[7]! & 1) !== 0) return ok({ kind: 'supplementary' });
      const info = parseVolumeInfo(sector, { ...where, record: 'Joliet supplementary volume descriptor' }, true);
      return info.ok ? ok({ kind: 'joliet', level, info: info.value }) : info;
    }
    case 3:
      return ok({ kind: 'partition' });
    case 255:
      return ok({ kind: 'terminator' });
    default:
      return ok({ kind: 'other', type });
  }
}

/** Sanity checks on the PVD that the rest of the reader relies on; passes `info` through. */
export function checkPrimary(info: VolumeInfo, where: Where): IsoResult<VolumeInfo> {
  if (info.blockSize !== 2048) {
    return fail('RB_ERR_ISO_UNSUPPORTED', where, `logical block size ${info.blockSize} is not supported (only 2048)`, { blockSize: info.blockSize });
  }
  if (info.volumeBlocks <= FIRST_DESCRIPTOR_LBA) {
    return fail('RB_ERR_ISO_FORMAT', where, `volume space size ${info.volumeBlocks} blocks is too small to hold the descriptors`, { volumeBlocks: info.volumeBlocks });
  }
  if ((info.root.flags & 0x02) === 0) {
    return fail('RB_ERR_ISO_FORMAT', where, 'root directory record is not flagged as a directory', { flags: info.root.flags });
  }
  return ok(info);
}
