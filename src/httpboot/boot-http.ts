import type { FastifyInstance, FastifyServerFactory } from 'fastify';
import type { Logger } from '../log.js';
import { bootFileRoutes, type BootFileRoots, type ServedFile } from './boot-files.js';
import { bootRoutes, type InstallTrigger } from './boot-routes.js';
import { ipxeFastPath, requestIdSequence, serverWithFastPath, type IpxeScripts } from './ipxe-fast-path.js';

export interface BootHttpDeps {
  scripts: IpxeScripts;
  trigger: InstallTrigger;
  roots: BootFileRoots;
  log: Logger;
  /** Each boot file sent (the node's timeline, the bytes metric). */
  onBootFile?: (f: ServedFile) => void;
  metrics?: { httpResponse(method: string, route: string | undefined, status: number): void };
}

/** The boot path's part of the one HTTP server, handed to the HTTP face as opaque pieces. */
export interface BootHttp {
  /** Node's HTTP server with the iPXE fast path in front of fastify (fastify's serverFactory). */
  serverFactory: FastifyServerFactory;
  /** Request ids, one sequence for the fast path and fastify (fastify's genReqId). */
  genReqId: () => string;
  /** The boot routes: files under /install/ and /boot/, the iPXE script, the install trigger. */
  routes(app: FastifyInstance): Promise<void>;
}

/**
 * What booting nodes fetch over HTTP, unauthenticated by nature: kernels and initrds (the fast
 * path for an initrd that carries a whole ISO), loaders for UEFI HTTP Boot, iPXE scripts (answered
 * below Node's HTTP parser while a connection asks for nothing else) and the install trigger. It
 * shares the port with the admin API, so it is built here and given to the HTTP face.
 */
export function bootHttp(deps: BootHttpDeps): BootHttp {
  const genReqId = requestIdSequence();
  const fast = ipxeFastPath({ scripts: deps.scripts, log: deps.log, metrics: deps.metrics, nextReqId: genReqId });
  return {
    serverFactory: (handler, options) => serverWithFastPath(fast, handler, options as Record<string, unknown>),
    genReqId,
    async routes(app) {
      await bootFileRoutes(app, deps.roots, deps.onBootFile);
      bootRoutes(app, { scripts: deps.scripts, trigger: deps.trigger });
    },
  };
}
