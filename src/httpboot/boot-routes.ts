import type { FastifyInstance } from 'fastify';
import { IPXE_MAX_NAME, IPXE_NO_CONFIG, IPXE_ROUTE, type IpxeScripts } from './ipxe-fast-path.js';

/** The install trigger as the route needs it (provisioning/trigger.ts decides; the route only answers). */
export interface InstallTrigger {
  fire(req: { remoteAddress: string; hostname: string; token: string | undefined }): Promise<{ accepted: true; repeat: boolean } | { accepted: false }>;
}

/**
 * What booting nodes call over HTTP, unauthenticated by nature: their iPXE script and the install
 * trigger. Answers are plain text; refusals say little (the reason is logged, not told).
 */
export function bootRoutes(app: FastifyInstance, deps: { scripts: IpxeScripts; trigger: InstallTrigger }): void {
  // Plain GET/HEAD of this route are answered by the fast path in front of fastify; this one is
  // what the rest (a query string, percent-encoding, names over the schema's length) still reach.
  app.get<{ Params: { mac: string } }>(IPXE_ROUTE, { schema: { hide: true, params: { type: 'object', properties: { mac: { type: 'string', maxLength: IPXE_MAX_NAME } } } } }, async (req, reply) => {
    const script = await deps.scripts.ipxe(req.params.mac, { address: req.ip });
    if (script === undefined) {
      return reply.status(404).type('text/plain').send(IPXE_NO_CONFIG);
    }
    return reply.type('text/plain').send(script);
  });

  // The xCAT path, kept: existing RHEV-H kernel arguments and firewall rules carry over.
  app.get<{ Params: { hostname: string }; Querystring: { token?: string } }>(
    '/xcatrhevh/rhevh_finish_install/:hostname',
    { schema: { hide: true, params: { type: 'object', properties: { hostname: { type: 'string', maxLength: 255 } } }, querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 128 } } } } },
    async (req, reply) => {
      const outcome = await deps.trigger.fire({ remoteAddress: req.socket.remoteAddress ?? '', hostname: req.params.hostname, token: req.query.token });
      if (!outcome.accepted) return reply.status(403).type('text/plain').send('refused\n');
      return reply.type('text/plain').send(outcome.repeat ? 'ok (already booted)\n' : 'ok\n');
    },
  );
}
