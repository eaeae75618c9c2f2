/** In-house ISO9660 reader: ECMA-119 + Rock Ridge + Joliet + El Torito, streaming, hostile-image safe. */
export { IsoImage } from './image.js';
export { extractIso, type ExtractOptions, type ExtractResult } from './extract.js';
export type { IsoEntry, IsoExtent, Naming, OpenOptions } from './types.js';
export type { IsoResult, IsoProblem, Where } from './fail.js';
export type { ElToritoEntry, BootPlatform, BootMediaType } from './eltorito.js';
export { parseBootCatalog, checkValidationEntry, platformName } from './eltorito.js';
export { parseDirectoryRecord, parseDirectoryExtent, plainName, decodeShortDate, decodeLongDate, type DirRecord } from './record.js';
export { splitSuspArea, collectSuspEntries, parseSp, type SuspEntry, type SuspArea, type ContinuationRef } from './susp.js';
export { parseRockRidge, type RockRidgeInfo } from './rockridge.js';
export { decodeUtf16be, jolietName, jolietLevel } from './joliet.js';
export { parseVolumeDescriptor, type VolumeDescriptor, type VolumeInfo } from './descriptors.js';
