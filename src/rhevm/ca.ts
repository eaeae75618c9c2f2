/**
 * Fetching the engine's CA for pinning (ovirt-api.md §2.4) — the first step of
 * `rhevboot rhevm test`. The CA is downloaded unauthenticated from the engine's pki-resource URL
 * (legacy `/ca.crt` on 3.x), and its fingerprint is shown to the admin, who pins it only after
 * comparing (or by passing `--fingerprint`). Over plain http the download itself proves nothing;
 * the admin's comparison is what makes the pin trustworthy, and from then on every API call is
 * verified against it (transport.ts). Over https the download is NOT verified either: an engine's
 * CA is its own (engine-setup makes it), so no system store could vouch for it, and refusing here
 * would only push admins to turn verification off everywhere. This one unauthenticated GET is the
 * trust-on-first-use step, exactly like `curl -k …/pki-resource` in the engine's own docs; what
 * it returns is trusted only after the fingerprint comparison.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { RhevmError } from './errors.js';

export const PKI_CA_PATH = '/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA';
export const LEGACY_CA_PATH = '/ca.crt';

export interface EngineCa {
  /** The CA certificate, PEM (first certificate only). */
  pem: string;
  /** SHA-256 of the DER, `AB:CD:…` — what the admin compares and what is pinned. */
  sha256: string;
  /** SHA-1 of the DER, `AB:CD:…` — the form RHEV-H's `management_server_fingerprint=` expects (§8.1). */
  sha1: string;
  subject: string;
  notAfter: string;
  /** Where it came from. */
  url: string;
}

const PEM_RE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/;

function colonHex(buf: Buffer): string {
  return buf
    .toString('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/**
 * Parses a CA PEM and computes its fingerprints, or says what is wrong with it: no certificate,
 * an unreadable one, or one that is not a CA. Whose fault that is depends on who supplied the PEM
 * (the engine, or the admin), so the caller makes the error.
 */
export function readCaPem(pem: string, url = ''): { ca: EngineCa } | { problem: 'no-pem' | 'unreadable' | 'not-ca'; reason: string } {
  const m = PEM_RE.exec(pem);
  if (!m) return { problem: 'no-pem', reason: 'no PEM certificate (-----BEGIN CERTIFICATE-----)' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(m[0]);
  } catch (err) {
    return { problem: 'unreadable', reason: `unreadable: ${(err as Error).message}` };
  }
  if (!cert.ca) return { problem: 'not-ca', reason: 'not a CA certificate' };
  return {
    ca: {
      pem: m[0].trim() + '\n',
      sha256: colonHex(createHash('sha256').update(cert.raw).digest()),
      sha1: colonHex(createHash('sha1').update(cert.raw).digest()),
      subject: cert.subject,
      notAfter: cert.validTo,
      url,
    },
  };
}

/** Parse a CA PEM the engine served; refuses non-certificates and non-CA certificates. */
export function describeCa(pem: string, url = ''): EngineCa {
  const read = readCaPem(pem, url);
  if ('ca' in read) return read.ca;
  const message =
    read.problem === 'no-pem'
      ? 'engine CA reply holds no PEM certificate'
      : read.problem === 'unreadable'
        ? `engine CA certificate ${read.reason}`
        : 'the certificate the engine served is not a CA certificate';
  throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', message, { path: url });
}

/** Compare fingerprints in any common spelling (colons or not, any case). */
export function sameFingerprint(a: string, b: string): boolean {
  const n = (s: string) => s.replace(/[^0-9a-f]/gi, '').toLowerCase();
  return n(a) !== '' && n(a) === n(b);
}

/**
 * Download the engine CA from `<origin>/ovirt-engine/services/pki-resource?…`, falling back to
 * the 3.x `/ca.crt` when the first answers 404. `engineUrl` may be the API URL; only its origin is used.
 */
export async function fetchEngineCa(engineUrl: string, opts: { timeoutMs?: number; signal?: AbortSignal; caUrl?: string } = {}): Promise<EngineCa> {
  const origin = new URL(engineUrl).origin;
  const urls = opts.caUrl ? [opts.caUrl] : [origin + PKI_CA_PATH, origin + LEGACY_CA_PATH];
  let last = '';
  // Only for this download (see the top of the file); the API client always verifies.
  const unverified = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    for (const url of urls) {
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      let status: number;
      let body: string;
      try {
        const res = await request(url, { method: 'GET', headers: { Accept: 'application/x-x509-ca-cert, */*' }, signal, dispatcher: unverified });
        status = res.statusCode;
        body = status === 200 ? await res.body.text() : (await res.body.dump(), '');
      } catch (err) {
        throw new RhevmError('RB_ERR_RHEVM_UNREACHABLE', `cannot fetch the engine CA from ${url}: ${(err as Error).message}`, { path: url }, { cause: err });
      }
      if (status === 200) return describeCa(body.slice(0, 1 << 20), url);
      last = `${url} answered HTTP ${status}`;
      if (status !== 404) break;
    }
  } finally {
    await unverified.close();
  }
  throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', `engine CA not available: ${last}`, {});
}
