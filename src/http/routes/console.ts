import type { FastifyInstance, FastifyReply } from 'fastify';
import { RhevbootError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Services } from '../../services.js';
import type { Store } from '../../store/store.js';
import { CONTACT_KINDS, type ApiLastContact } from '../api-types.js';
import { requireToken } from '../auth.js';
import { consoleAssets } from '../console-assets.js';
import { LiveFeed } from '../live-feed.js';
import { streamRoutes, type StreamOptions } from './stream.js';

export interface ConsoleRouteOptions extends StreamOptions {
  store: Store;
  services: Services;
}

/**
 * Same-origin only, no inline code: the bundle is the only script, the stylesheet the only style.
 * The console renders no user-supplied HTML (preact escapes text), and this header makes sure an
 * injected <script> or style attribute would not run even if it did.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The web console: static files under /console/ (open: they hold no data, the token is pasted in
 * the page) and the two API routes only it needs, under /api/v1 with the same bearer tokens:
 * GET /stream (live events and job progress) and GET /last-contact.
 */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const feed = new LiveFeed(opts.store, app.log as Logger);
  // Streams never end by themselves; without this, server.close() would wait for every open tab.
  app.addHook('preClose', (done) => {
    feed.stop();
    done();
  });

  await app.register(
    async (api) => {
      requireToken(api, opts.services.tokens);
      streamRoutes(api, feed, opts);
      api.get<{ Reply: ApiLastContact }>(
        '/last-contact',
        {
          schema: {
            description: "Each node's latest boot contact (DHCP, TFTP, HTTP, trigger), for the console's node table.",
            response: { 200: { type: 'object', additionalProperties: { type: 'object', properties: { at: { type: 'string' }, kind: { type: 'string' }, message: { type: 'string' } } } } },
          },
        },
        async () => {
          const last = await opts.store.events.lastPerSubject({ subjectType: 'node', kinds: CONTACT_KINDS });
          return Object.fromEntries(last.map((e) => [e.subject, { at: e.at, kind: e.kind, message: e.message }]));
        },
      );
    },
    { prefix: '/api/v1' },
  );

  const assets = consoleAssets(app.log as Logger);
  const send = async (reply: FastifyReply, name: string, ifNoneMatch: string | undefined): Promise<FastifyReply> => {
    let files;
    try {
      files = await assets();
    } catch (err) {
      reply.log.error({ err }, 'console: no build and no sources to bundle');
      throw new RhevbootError('RB_ERR_NOT_FOUND', 'the web console is not built (npm run build)');
    }
    const asset = files.get(name);
    if (!asset) throw new RhevbootError('RB_ERR_NOT_FOUND', `no console file ${name}`);
    void reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      // Revalidate every time (a 304 costs nothing): a new appliance version is picked up at once.
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag);
    if (ifNoneMatch === asset.etag) return reply.status(304).send();
    return reply.type(asset.type).send(asset.body);
  };

  const hidden = { schema: { hide: true } };
  app.get('/', hidden, (_req, reply) => reply.redirect('/console/', 302));
  app.get('/console', hidden, (_req, reply) => reply.redirect('/console/', 301));
  app.get('/console/', hidden, (req, reply) => send(reply, 'index.html', req.headers['if-none-match']));
  app.get<{ Params: { file: string } }>('/console/:file', hidden, (req, reply) => {
    // Only the two bundle files; index.html has one URL, so relative links behave the same.
    if (req.params.file !== 'app.js' && req.params.file !== 'app.css') throw new RhevbootError('RB_ERR_NOT_FOUND', `no console file ${req.params.file}`);
    return send(reply, req.params.file, req.headers['if-none-match']);
  });
}
