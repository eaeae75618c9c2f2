import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeRequestName, openStatic, prepareRoots, type ServedRoot } from '../confinement/served-files.js';
import { redactUrl } from '../log.js';
import { sendFile } from './send-file.js';

export interface BootFileRoots {
  /** Distro trees (kernels, PXE initrds, ISOs): served under /install/. */
  installDir: string;
  /** Boot loaders (ipxe.efi for UEFI HTTP Boot): served under /boot/. */
  tftpRoot: string;
}

/**
 * Unauthenticated by nature (firmware has no token), so these routes serve only regular files
 * inside their roots: the same name checks and realpath confinement as TFTP, hidden components
 * (staging trees) refused, and a refusal is a plain 404 that says nothing about the file system.
 */
/** What was served, to whom: the boot-file step of a node's timeline. */
export interface ServedFile {
  path: string;
  client: string;
  status: number;
  bytes: number;
  ms: number;
}

export async function bootFileRoutes(app: FastifyInstance, roots: BootFileRoots, onServed?: (f: ServedFile) => void): Promise<void> {
  const served = new Map<string, ServedRoot[] | undefined>();
  // A root that does not exist yet (no import so far) is looked up again on the next request.
  const rootsFor = async (dir: string): Promise<ServedRoot[] | undefined> => {
    if (!served.get(dir)) served.set(dir, await prepareRoots(dir).catch(() => undefined));
    return served.get(dir);
  };
  const handler = (dir: string) => async (req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const name = normalizeRequestName(decodeURIComponentSafe(req.params['*']));
    const r = name.ok ? await rootsFor(dir) : undefined;
    const opened = name.ok && r ? await openStatic(name.name, r) : { kind: 'not-found' as const };
    if (opened.kind !== 'file') {
      if (opened.kind === 'refused' || !name.ok) req.log.warn({ path: req.params['*'], remote: req.ip, reason: name.ok ? (opened as { reason?: string }).reason : name.reason }, 'boot file refused');
      return reply.status(404).send({ error: { code: 'RB_ERR_NOT_FOUND', message: 'not found' } });
    }
    const started = performance.now();
    const sent = await sendFile(req, reply, opened);
    // The path goes to the node's timeline (the events table), query string and all.
    onServed?.({ path: redactUrl(req.url), client: req.ip, status: sent.status, bytes: sent.bytes, ms: Math.round(performance.now() - started) });
  };
  for (const [prefix, dir] of [
    ['/install/*', roots.installDir],
    ['/boot/*', roots.tftpRoot],
  ] as const) {
    app.route({ method: ['GET', 'HEAD'], url: prefix, schema: { hide: true }, handler: handler(dir) });
  }
}

/** The router hands over the raw (still %-encoded) path; a bad escape is a name that cannot exist. */
function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return '\0';
  }
}
