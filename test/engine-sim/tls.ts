// A throwaway PKI for the HTTPS engine: a CA and a server certificate for 127.0.0.1/localhost made
// with the openssl CLI at start, plus an engine SSH public key (§8.3 get-ssh-trust). Tests pin the
// CA by its fingerprint, as rhevboot does with a real engine (§2.4, §8.1).
import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface EnginePki {
  dir: string;
  caPem: string;
  caPath: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint of the CA, colon-separated upper-case hex (what `openssl x509 -fingerprint` prints). */
  caFingerprint256: string;
  /** SHA-1 fingerprint: what `management_server_fingerprint=` carries for RHEV-H (§8.1). */
  caFingerprint1: string;
  cleanup(): Promise<void>;
}

export async function makePki(hostname = 'engine.sim.test'): Promise<EnginePki> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'engine-sim-pki-'));
  const p = (f: string): string => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', `/C=US/O=sim.test/CN=${hostname}.CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', `/C=US/O=sim.test/CN=${hostname}`]);
  await writeFile(p('ext.cnf'), `subjectAltName=DNS:localhost,DNS:${hostname},IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf')]);
  const caPem = await readFile(p('ca.pem'), 'utf8');
  const ca = new X509Certificate(caPem);
  return {
    dir, caPem, caPath: p('ca.pem'), certPem: await readFile(p('server.pem'), 'utf8'), keyPem: await readFile(p('server.key'), 'utf8'),
    caFingerprint256: ca.fingerprint256, caFingerprint1: ca.fingerprint,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** An OpenSSH `ssh-rsa` public key line, as the engine serves at /engine.ssh.key.txt (§2.4). */
export function makeSshPublicKey(comment = 'ovirt-engine'): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const mpint = (b64: string): Buffer => {
    let b = Buffer.from(b64, 'base64url');
    if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return b;
  };
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (b.length >> (24 - 8 * i)) & 0xff)), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-rsa')), str(mpint(jwk.e!)), str(mpint(jwk.n!))]);
  return `ssh-rsa ${blob.toString('base64')} ${comment}\n`;
}
