/** The engine client library: pure codec, transport, auth and the typed facade (DESIGN.md adapters + codecs). */
export { RhevmClient, type RhevmClientOptions } from './client.js';
export { Connection, newCorrelationId, type CallOptions, type ConnectionOptions } from './connection.js';
export { fetchEngineCa, describeCa, readCaPem, sameFingerprint, type EngineCa } from './ca.js';
export { EngineFault, RhevmError, isEngineFault, isRhevmError, type RhevmErrorCode } from './errors.js';
export { forgetApi, type ApiInfo } from './detect.js';
export { searchQuery, searchStatus, collectionUrl, type ListOptions } from './search.js';
export { BLANK_TEMPLATE } from './vms.js';
export type { AttachNetworkSpec } from './hosts.js';
export * from './model.js';
export type * from './encode.js';
export * as codec from './codec.js';
