import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RhevbootError } from '../errors.js';
import type { TokenService } from '../access/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Name of the API token that authenticated this request. */
    tokenName?: string;
  }
}

function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Every route registered in this plugin's scope needs a valid bearer token. */
export function requireToken(app: FastifyInstance, tokens: TokenService): void {
  app.decorateRequest('tokenName', undefined);
  app.addHook('onRequest', async (req, reply) => {
    const token = bearer(req);
    const record = token ? await tokens.verify(token) : undefined;
    if (!record) {
      void reply.header('www-authenticate', 'Bearer realm="rhevboot"');
      throw new RhevbootError('RB_ERR_UNAUTHORIZED', token ? 'the API token is not valid' : 'an API token is required (Authorization: Bearer <token>)');
    }
    req.tokenName = record.name;
  });
}
