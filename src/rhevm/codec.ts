/**
 * The pure codec's public face: bodies (strings) in, typed values or `{ ok: false, reason }` out,
 * and request bodies out. No I/O, no throwing (DESIGN.md "codecs").
 */
import { decodeAction, decodeApiRoot, decodeEntity, decodeFault, decodeList } from './decode.js';
import type { ActionResult, ApiRoot, EntityKind, EntityKinds, Fault, SsoToken } from './model.js';
import { COLLECTION_ELEMENT } from './model.js';
import { find, kids, type Parsed } from '../xml/tree.js';
import { parseBody, parseEngineXml } from './xml.js';

export type { Parsed } from '../xml/tree.js';

export function parseEntity<K extends EntityKind>(kind: K, body: string): Parsed<EntityKinds[K]> {
  const doc = parseBody(body, kind);
  return doc.ok ? decodeEntity(kind, doc.value) : doc;
}

export function parseList<K extends EntityKind>(kind: K, body: string): Parsed<EntityKinds[K][]> {
  const doc = parseBody(body, COLLECTION_ELEMENT[kind]);
  return doc.ok ? decodeList(kind, doc.value) : doc;
}

export function parseAction(body: string): Parsed<ActionResult> {
  const doc = parseBody(body, 'action');
  return doc.ok ? decodeAction(doc.value) : doc;
}

export function parseApiRoot(body: string): Parsed<ApiRoot> {
  const doc = parseEngineXml(body);
  return doc.ok ? decodeApiRoot(doc.value) : doc;
}

/**
 * A fault from an error response: a bare `<fault>` or one wrapped in `<action>` (§5.4), or the
 * JSON form `{"reason": …, "detail": …}`. Anything else (empty bodies on 404, HTML error pages
 * from proxies) is "no fault", and the caller reports the HTTP status alone.
 */
export function parseFault(body: string): Fault | undefined {
  if (body.trim() === '') return undefined;
  const doc = parseBody(body, 'fault');
  if (!doc.ok) return undefined;
  const n = doc.value;
  if (n.name === 'fault' && (kids(n).some((c) => c.name === 'reason' || c.name === 'detail') || n.attrs['reason'] !== undefined)) {
    return decodeFault(n);
  }
  if (n.name === 'action' || n.name === 'creation') return decodeFault(n);
  // JSON root was named 'fault' by us; a JSON action with a fault has a "fault" member.
  return decodeFault(find(n, 'fault'));
}

/** SSO token reply (§2.3): `{"access_token", "exp" (epoch ms as a string), "token_type"}`. */
export function parseSsoToken(body: string): Parsed<SsoToken> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'SSO reply is not JSON' };
  }
  if (!raw || typeof raw !== 'object') return { ok: false, reason: 'SSO reply is not an object' };
  const r = raw as Record<string, unknown>;
  if (typeof r['access_token'] !== 'string' || r['access_token'] === '') return { ok: false, reason: 'SSO reply without access_token' };
  const tok: SsoToken = { accessToken: r['access_token'] };
  const exp = Number(r['exp']);
  if (r['exp'] !== undefined && Number.isFinite(exp)) tok.expiresAt = exp;
  if (typeof r['token_type'] === 'string') tok.tokenType = r['token_type'];
  return { ok: true, value: tok };
}

/**
 * SSO error reply (§2.3), both shapes: `{"error":"access_denied","error_description":"…"}` and
 * the REST-scope `{"error_code":"access_denied","error":"…"}`.
 */
export function parseSsoError(body: string): { code: string; message: string } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const s = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : undefined);
  if (s('error_code') !== undefined) return { code: s('error_code')!, message: s('error') ?? '' };
  if (s('error') !== undefined) return { code: s('error')!, message: s('error_description') ?? '' };
  return undefined;
}
