/**
 * API location and version detection (ovirt-api.md §1.1, §1.2, §10), after the official Ruby
 * probe: try `/ovirt-engine/api` (3.4+ and every 4.x) and then `/api` (3.0–3.3, and the legacy
 * deployment of 3.4–3.6); 200 means found, 401 means the credentials are wrong, anything else means
 * "not here". The version is read from how the root document writes it: attributes (`major="3"`)
 * for v3, elements (`<major>4</major>`) for v4. We ask with `Version: 4` so that a 4.0–4.3 engine,
 * which also speaks v3, answers in v4; a 3.x engine ignores the header and answers in v3.
 */
import type { ApiRoot, ApiVersion } from './model.js';

export const API_PATH_CANDIDATES = ['/ovirt-engine/api', '/api'] as const;

export interface ApiInfo {
  /** Absolute path of the API root on the engine's origin, without a trailing slash. */
  path: string;
  version: ApiVersion;
  /** The engine's product version from the root document, when it gave one. */
  productVersion?: string;
  productName?: string;
}

/** Where to look, given the URL the admin configured (an origin, or an origin plus the API path). */
export function candidatePaths(configured: URL): string[] {
  const p = configured.pathname.replace(/\/+$/, '');
  if (p === '' || p === '/') return [...API_PATH_CANDIDATES];
  return [p];
}

export function apiInfoFromRoot(path: string, root: ApiRoot): ApiInfo {
  const v = root.version;
  return {
    path,
    version: root.dialect,
    ...(v && { productVersion: v.fullVersion ?? `${v.major}.${v.minor}${v.build !== undefined ? `.${v.build}` : ''}` }),
    ...(root.productName !== undefined && { productName: root.productName }),
  };
}

/** Remembered detections, per engine (origin + configured path), for the life of the process. */
const remembered = new Map<string, ApiInfo>();

export function rememberedApi(key: string): ApiInfo | undefined {
  return remembered.get(key);
}
export function rememberApi(key: string, info: ApiInfo): void {
  remembered.set(key, info);
}
export function forgetApi(key?: string): void {
  if (key === undefined) remembered.clear();
  else remembered.delete(key);
}
